// The importer checking its own runtime before it runs anything: when it starts from an images directory
// (importer/linux-<arch>/importer.mjs), every file of its platform directory must match SHA256SUMS.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { Worker } from 'node:worker_threads';
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

// Hashing node (about 100 MB) on the main thread would hold the start-up for its whole duration; a worker hashes
// it on another core while the importer detects the runtime and lists the archives.
const HASH_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { createReadStream } = require('node:fs');
const hash = createHash('sha256');
createReadStream(workerData, { highWaterMark: 1 << 20 })
  .on('data', (chunk) => hash.update(chunk))
  .on('end', () => parentPort.postMessage({ sha256: hash.digest('hex') }))
  .on('error', (error) => parentPort.postMessage({ error: error.message }));
`;

const sha256InWorker = (file: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const worker = new Worker(HASH_WORKER, { eval: true, workerData: file });
    // A run that ends early (--help, no runtime) does not wait for the hash.
    worker.unref();
    worker.once('message', (message: { sha256?: string; error?: string }) => {
      void worker.terminate();
      if (message.sha256) resolve(message.sha256);
      else reject(new Error(`${file}: ${message.error}`));
    });
    worker.once('error', reject);
  });

/** The files a check covers, split so the first ones can gate what must not run unchecked (ctr). */
export interface BundleCheck {
  /** Settles once the files named in `first` are checked; rejects with the first bad one. */
  first: Promise<void>;
  /** Settles once every file is checked. */
  all: Promise<void>;
}

const checkFiles = async (
  imagesDir: string,
  files: ReadonlyArray<[string, string]>,
  hashOf: (path: string) => Promise<string>,
): Promise<void> => {
  const actual = await Promise.all(files.map(([file]) => hashOf(join(imagesDir, file))));
  for (const [index, [file, expected]] of files.entries()) {
    if (actual[index] !== expected)
      throw new RuntimeFileError(file, 'altered: sha256 does not match SHA256SUMS');
  }
};

/**
 * Checks every file under the platform directory against SHA256SUMS, and that every file SHA256SUMS lists for it
 * is there; the files under `first` (relative to the platform directory) are checked before the others. Rejects
 * with one RuntimeFileError naming a bad file.
 */
export const startBundleCheck = (
  location: BundleLocation,
  first: readonly string[] = ['bin/ctr'],
): BundleCheck => {
  const listing = (async () => {
    const imagesDir = location.imagesDir;
    if (!imagesDir) return undefined;
    const checksums = await readChecksums(imagesDir);
    const prefix = relative(imagesDir, location.dir);
    if (!checksums) {
      throw new RuntimeFileError('SHA256SUMS', `missing from ${imagesDir}, the runtime cannot be checked`);
    }
    const listed = [...checksums].filter(([file]) => file.startsWith(`${prefix}/`));
    const present = new Set((await listFiles(location.dir)).map((file) => relative(imagesDir, file)));
    for (const file of [...present].sort()) {
      if (!checksums.has(file)) throw new RuntimeFileError(file, 'not listed in SHA256SUMS');
    }
    for (const [file] of listed) {
      if (!present.has(file)) throw new RuntimeFileError(file, 'listed in SHA256SUMS, missing');
    }
    const isFirst = ([file]: [string, string]) => first.some((name) => file === `${prefix}/${name}`);
    return {
      imagesDir,
      prefix,
      early: listed.filter(isFirst),
      late: listed.filter((entry) => !isFirst(entry)),
    };
  })();
  const firstDone = listing.then(async (files) => {
    if (files) await checkFiles(files.imagesDir, files.early, sha256File);
  });
  const all = firstDone.then(async () => {
    const files = await listing;
    if (!files) return;
    const node = `${files.prefix}/bin/node`;
    await checkFiles(files.imagesDir, files.late, (path) =>
      path.endsWith(node) ? sha256InWorker(path) : sha256File(path),
    );
  });
  // Callers await `all` only on some paths; an early exit must not turn its rejection into a crash.
  all.catch(() => undefined);
  return { first: firstDone, all };
};
