import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

/** Where built blobs live between runs, so a 300 MB layer is generated once per machine. */
export const DEFAULT_CACHE_DIR = fileURLToPath(
  new URL('../../node_modules/.cache/airlock/factory', import.meta.url),
);

export interface StoredBlob {
  digest: string;
  size: number;
  /** Absolute path of the content-addressed file: `<cacheDir>/blobs/sha256/<hex>`. */
  path: string;
}

export const blobPath = (cacheDir: string, digest: string): string =>
  join(cacheDir, 'blobs', ...digest.split(':'));

/** Counts and hashes the bytes flowing through, for digests and diff_ids computed while streaming. */
export class DigestingStream extends Transform {
  readonly #hash = createHash('sha256');
  size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.#hash.update(chunk);
    this.size += chunk.length;
    this.push(chunk);
    callback();
  }

  digest(): string {
    return `sha256:${this.#hash.digest('hex')}`;
  }
}

// Temp files sit next to the blobs (same filesystem) so rename is atomic; concurrent writers of the same
// content both succeed and the last rename wins with identical bytes.
const tempPath = async (cacheDir: string): Promise<string> => {
  const dir = join(cacheDir, 'tmp');
  await mkdir(dir, { recursive: true });
  return join(dir, `${process.pid}-${randomUUID()}`);
};

const publish = async (cacheDir: string, temp: string, digest: string, size: number): Promise<StoredBlob> => {
  const path = blobPath(cacheDir, digest);
  await mkdir(dirname(path), { recursive: true });
  await rename(temp, path);
  return { digest, size, path };
};

/** Stores a small blob (manifest, config, index) given as bytes. */
export const storeBytes = async (cacheDir: string, bytes: Uint8Array): Promise<StoredBlob> => {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const existing = await storedBlob(cacheDir, digest, bytes.length);
  if (existing) return existing;
  const temp = await tempPath(cacheDir);
  try {
    await writeFile(temp, bytes);
    return await publish(cacheDir, temp, digest, bytes.length);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
};

/** Stores a blob produced as a stream (through optional transforms such as gzip), hashing it on the way to disk. */
export const storeStream = async (
  cacheDir: string,
  source: NodeJS.ReadableStream,
  transforms: readonly NodeJS.ReadWriteStream[] = [],
): Promise<StoredBlob> => {
  const temp = await tempPath(cacheDir);
  const digesting = new DigestingStream();
  try {
    await pipeline([source, ...transforms, digesting, createWriteStream(temp)]);
    return await publish(cacheDir, temp, digesting.digest(), digesting.size);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
};

/** The stored blob if its file exists with the expected size, else undefined. */
export const storedBlob = async (
  cacheDir: string,
  digest: string,
  size: number,
): Promise<StoredBlob | undefined> => {
  const path = blobPath(cacheDir, digest);
  const stats = await stat(path).catch(() => undefined);
  return stats?.isFile() && stats.size === size ? { digest, size, path } : undefined;
};
