// Downloads a source file into the cache, checking its sha256 (and size) while the bytes flow.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AirlockError } from '../errors.ts';
import { sha256File } from '../files.ts';

export interface Expected {
  sha256: string;
  size?: number;
}

export class SourceMismatchError extends AirlockError {
  readonly file: string;
  constructor(file: string, message: string) {
    super('DIGEST_MISMATCH', message);
    this.file = file;
  }
}

const exists = (file: string) =>
  stat(file).then(
    (info) => info.isFile(),
    () => false,
  );

/** Fetches `url` into `file` unless a file with the expected sha256 is already there. */
export const downloadVerified = async (url: string, file: string, expected: Expected): Promise<string> => {
  if ((await exists(file)) && (await sha256File(file)) === expected.sha256) return file;
  await mkdir(dirname(file), { recursive: true });
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new AirlockError('NETWORK', `${url}: ${(error as Error).message}`, { cause: error });
  }
  if (!response.ok || !response.body) {
    throw new AirlockError(
      response.status === 404 ? 'NOT_FOUND' : 'NETWORK',
      `${url}: HTTP ${response.status}${response.status === 404 ? ' — the mirror dropped this version: update lib/bundle/runtime.lock.json (npm run runtime:lock) or point AIRLOCK_DEBIAN_MIRROR at a snapshot (see OFFLINE-IMAGES.md)' : ''}`,
    );
  }
  const hash = createHash('sha256');
  let size = 0;
  const counting = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const partial = `${file}.${randomBytes(4).toString('hex')}.partial`;
  try {
    await pipeline(Readable.fromWeb(response.body as never), counting, createWriteStream(partial));
    const sha256 = hash.digest('hex');
    if (sha256 !== expected.sha256 || (expected.size !== undefined && size !== expected.size)) {
      throw new SourceMismatchError(
        file,
        `${url}: sha256 ${sha256} (${size} bytes), expected ${expected.sha256}${expected.size === undefined ? '' : ` (${expected.size} bytes)`} — the source changed; nothing was used`,
      );
    }
    await rename(partial, file);
    return file;
  } finally {
    await rm(partial, { force: true });
  }
};
