// The importer checking its own runtime before it imports anything: when it starts from an images directory
// (importer/linux-<arch>/importer.mjs), every file of its platform directory must match SHA256SUMS.
//
// What the check can vouch for decides when it must finish. ctr is the only runtime program started after this
// code runs: it is checked before its first start, so an altered ctr never runs. The loader, the libraries, node
// and importer.mjs have already run by the time any check can: hashing them finds a damaged or incomplete copy
// (a hostile node binary would simply skip its own check), so it runs beside the runtime detection and the
// archive listing, and settles before the header and the first import: a damaged runtime imports nothing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CHECKSUMS_FILE, parseChecksums } from '../archive/checksums.ts';
import { AirlockError } from '../errors.ts';
import type { ProgramLauncher } from '../exec/launcher.ts';
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
  programs: new Map([
    ['ctr', join(location.dir, 'bin/ctr')],
    // The keeper in watch mode starts the importer's node for each pass.
    ['node', join(location.dir, 'bin/node')],
  ]),
});

export class RuntimeFileError extends AirlockError {
  readonly file: string;
  constructor(file: string, reason: string) {
    super('CHECKSUM_MISMATCH', `${file}: ${reason} — copy the exported images directory to this node again`);
    this.file = file;
  }
}

/** The files a check covers, split so the first ones can gate what must not run unchecked (ctr). */
export interface BundleCheck {
  /** Settles once the files named in `first` are checked; rejects with the first bad one. */
  first: Promise<void>;
  /** Settles once every file is checked. */
  all: Promise<void>;
}

// The hashing runs on a worker thread with one reused buffer (sha256File explains why not a read stream): it
// starts while the main thread is still evaluating the importer's modules, and overlaps them, the runtime
// detection and the archive listing on the node's other core. The worker is plain CommonJS, as the bundle holds
// nothing a worker could import.
const HASH_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const buffer = Buffer.allocUnsafeSlow(1 << 20);
const sha256 = (path) => {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    for (let read; (read = readSync(fd, buffer, 0, buffer.length, null)) > 0; ) hash.update(buffer.subarray(0, read));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
};
const check = () => {
  for (const [stage, files] of [['first', workerData.first], ['all', workerData.rest]]) {
    for (const { path, file, sha256: expected } of files) {
      let actual;
      try {
        actual = sha256(path);
      } catch (error) {
        return parentPort.postMessage({ file, reason: 'unreadable: ' + error.message });
      }
      if (actual !== expected) return parentPort.postMessage({ file, reason: 'altered: sha256 does not match SHA256SUMS' });
    }
    parentPort.postMessage({ done: stage });
  }
};
check();
`;

interface RuntimeFile {
  /** Where it is read from. */
  path: string;
  /** As SHA256SUMS names it, for the error. */
  file: string;
  sha256: string;
}

interface RuntimeFiles {
  first: RuntimeFile[];
  rest: RuntimeFile[];
}

/**
 * The runtime's files as SHA256SUMS lists them, split into those named in `first` and the rest; throws a
 * RuntimeFileError for a file listed and missing or present and not listed. Synchronous on purpose: it runs
 * while the bundle is evaluated, before the main thread could serve any callback, and reads two small things.
 */
const listRuntimeFiles = (imagesDir: string, dir: string, first: readonly string[]): RuntimeFiles => {
  const sumsPath = join(imagesDir, CHECKSUMS_FILE);
  if (!existsSync(sumsPath)) {
    throw new RuntimeFileError(CHECKSUMS_FILE, `missing from ${imagesDir}, the runtime cannot be checked`);
  }
  const checksums = parseChecksums(readFileSync(sumsPath, 'utf8'), sumsPath);
  const prefix = relative(imagesDir, dir);
  const present = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => !entry.isDirectory())
    .map((entry) => relative(imagesDir, join(entry.parentPath, entry.name)))
    .sort();
  for (const file of present) {
    if (!checksums.has(file)) throw new RuntimeFileError(file, 'not listed in SHA256SUMS');
  }
  const listed = [...checksums].filter(([file]) => file.startsWith(`${prefix}/`));
  const files: RuntimeFiles = { first: [], rest: [] };
  for (const [file, sha256] of listed) {
    if (!present.includes(file)) throw new RuntimeFileError(file, 'listed in SHA256SUMS, missing');
    const isFirst = first.some((name) => file === `${prefix}/${name}`);
    (isFirst ? files.first : files.rest).push({ path: join(imagesDir, file), file, sha256 });
  }
  return files;
};

type WorkerMessage = { done: 'first' | 'all' } | { file: string; reason: string };

const hashInWorker = (files: RuntimeFiles): BundleCheck => {
  const first = settleable();
  const all = settleable();
  const fail = (error: Error) => {
    first.reject(error);
    all.reject(error);
  };
  const worker = new Worker(HASH_WORKER, { eval: true, workerData: files });
  // A run that ends early (--help, no runtime) does not wait for the hash.
  worker.unref();
  worker.on('message', (message: WorkerMessage) => {
    if ('file' in message) fail(new RuntimeFileError(message.file, message.reason));
    else if (message.done === 'first') first.resolve();
    else all.resolve();
  });
  worker.once('error', (error) => fail(new RuntimeFileError('the runtime check', error.message)));
  worker.once('exit', () => fail(new RuntimeFileError('the runtime check', 'stopped before it finished')));
  return { first: first.promise, all: all.promise };
};

/** A promise and its settling functions; settling twice is a no-op, as for any promise. */
const settleable = () => {
  let resolve: () => void = () => undefined;
  let reject: (error: Error) => void = () => undefined;
  const promise = new Promise<void>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  // Callers await these only on some paths; an early exit must not turn a rejection into a crash.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
};

/**
 * Checks every file under the platform directory against SHA256SUMS, and that every file SHA256SUMS lists for it
 * is there; the files under `first` (relative to the platform directory) are checked before the others. Rejects
 * with one RuntimeFileError naming a bad file. A runtime laid out outside an images directory (the importer
 * image) has nothing to check against.
 */
export const startBundleCheck = (
  location: BundleLocation,
  first: readonly string[] = ['bin/ctr'],
): BundleCheck => {
  if (!location.imagesDir) return { first: Promise.resolve(), all: Promise.resolve() };
  try {
    return hashInWorker(listRuntimeFiles(location.imagesDir, location.dir, first));
  } catch (error) {
    const failed = Promise.reject(error);
    failed.catch(() => undefined);
    return { first: failed, all: failed };
  }
};
