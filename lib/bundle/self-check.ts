// The importer checking its own runtime before it runs anything: when it starts from an images directory
// (importer/linux-<arch>/importer.mjs), every file of its platform directory must match SHA256SUMS.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { readChecksums } from '../archive/checksums.ts';
import { AirlockError } from '../errors.ts';
import type { ProgramLauncher } from '../exec/launcher.ts';
import { sha256File } from './hash.ts';
import { RUNTIME_PLATFORMS, type RuntimePlatform } from './platforms.ts';

export interface BundleLocation {
  platform: RuntimePlatform;
  /** The platform directory: `<images>/importer/linux-amd64`. */
  dir: string;
  /** The images directory, two levels up (absent for a runtime laid out elsewhere, e.g. in the importer image). */
  imagesDir?: string;
}

/**
 * Where the running importer.mjs sits, when next to it is a bundled loader (lib/<loader>); otherwise undefined.
 * Only the loader decides: any other runtime file missing is for verifyBundle to name.
 */
export const locateBundle = (script: string): BundleLocation | undefined => {
  const dir = dirname(script);
  const platform = RUNTIME_PLATFORMS.find((candidate) => existsSync(join(dir, 'lib', candidate.loader)));
  if (!platform) return undefined;
  const inImagesDir = basename(dir) === platform.name && basename(dirname(dir)) === 'importer';
  return { platform, dir, ...(inImagesDir ? { imagesDir: dirname(dirname(dir)) } : {}) };
};

/** Programs of the runtime are started through its loader: the host image may have no libc at all. */
export const bundleLauncher = (location: BundleLocation): ProgramLauncher => ({
  loader: join(location.dir, 'lib', location.platform.loader),
  libraryPath: join(location.dir, 'lib'),
  programs: new Map([['ctr', join(location.dir, 'bin/ctr')]]),
});

export class RuntimeFileError extends AirlockError {
  readonly file: string;
  constructor(file: string, reason: string) {
    super('CHECKSUM_MISMATCH', `${file}: ${reason} — copy the exported images directory to this node again`);
    this.file = file;
  }
}

const listFiles = async (dir: string): Promise<string[]> =>
  (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => !entry.isDirectory())
    .map((entry) => join(entry.parentPath, entry.name));

/**
 * Checks every file under the platform directory against SHA256SUMS, and that every file SHA256SUMS lists for it
 * is there. Throws one RuntimeFileError naming the first bad file (in SHA256SUMS's order).
 */
export const verifyBundle = async (location: BundleLocation): Promise<number> => {
  if (!location.imagesDir) return 0;
  const checksums = await readChecksums(location.imagesDir);
  const prefix = relative(location.imagesDir, location.dir);
  if (!checksums)
    throw new RuntimeFileError(
      'SHA256SUMS',
      `missing from ${location.imagesDir}, the runtime cannot be checked`,
    );
  const listed = [...checksums].filter(([file]) => file.startsWith(`${prefix}/`));
  const present = new Set(
    (await listFiles(location.dir)).map((file) => relative(location.imagesDir as string, file)),
  );
  for (const file of [...present].sort()) {
    if (!checksums.has(file)) throw new RuntimeFileError(file, 'not listed in SHA256SUMS');
  }
  for (const [file] of listed) {
    if (!present.has(file)) throw new RuntimeFileError(file, 'listed in SHA256SUMS, missing');
  }
  // All at once: the reads overlap, and the hashing of one file runs while the next is read.
  const actual = await Promise.all(
    listed.map(([file]) => sha256File(join(location.imagesDir as string, file))),
  );
  for (const [index, [file, expected]] of listed.entries()) {
    if (actual[index] !== expected)
      throw new RuntimeFileError(file, 'altered: sha256 does not match SHA256SUMS');
  }
  return listed.length;
};
