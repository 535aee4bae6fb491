import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { addAbortSignal, pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { digestAlgorithm, isSupportedAlgorithm } from '../oci/index.ts';
import { ContentTracker, checkReferences } from './contents.ts';
import {
  type ArchiveLimits,
  DEFAULT_DOCUMENT_LIMIT,
  DocumentCollector,
  isNamingDocument,
} from './documents.ts';
import { checkEntry, normalizeEntryPath } from './entries.ts';
import { ArchiveCorruptError, ChecksumMismatchError, ImportStoppedError } from './errors.ts';
import { hasGzipName, hasZlibCrc32, isStoredGzipFile, startsWithGzipMagic, storedGunzip } from './gzip.ts';
import {
  DOCKER_MANIFEST_FILE,
  digestOfBlobPath,
  INDEX_FILE,
  OCI_LAYOUT_FILE,
  REPOSITORIES_FILE,
} from './layout.ts';
import { toReadError } from './source.ts';
import { type ArchiveDocuments, type ArchiveSummary, summarize } from './summary.ts';
import { type EntrySink, TarWalker } from './tar-reader.ts';
import { bufferEntry, END_OF_ARCHIVE } from './tar-writer.ts';

// Small reads: each chunk's buffers are garbage once passed on, and V8 frees buffers only when a collection
// runs. Many small chunks, with the hook's --max-semi-space-size=1, make collections come every MiB or so;
// a few large ones let tens of MiB of dead buffers pile up first. Measured in docs/benchmarks.md.
const READ_CHUNK = 64 * 1024;

export interface VerifiedTarOptions {
  /** Expected hex sha256 of the whole file (from SHA256SUMS). */
  sha256?: string;
  limits?: ArchiveLimits;
  signal?: AbortSignal;
  /**
   * Runs once every byte checked out, before the entries that name images reach the runtime; throwing refuses
   * the archive, and the runtime then sees a broken stream instead of the names.
   */
  approve?: (summary: ArchiveSummary, documents: ArchiveDocuments) => void | Promise<void>;
  /** Test seam: runs after the first chunk of the file was read (to swap the file under the open descriptor). */
  afterFirstChunk?: () => Promise<void>;
}

export interface VerifiedTar {
  /** The uncompressed tar for the runtime; it errors instead of ending when anything fails. */
  tar: Readable;
  /** Resolves once the archive checked out and was approved; rejects with the reason it was refused. */
  verified: Promise<ArchiveSummary>;
}

const both = (first: EntrySink | undefined, second: EntrySink | undefined): EntrySink | undefined => {
  if (!first || !second) return first ?? second;
  return {
    write: (chunk) => {
      first.write(chunk);
      second.write(chunk);
    },
    end: () => {
      first.end();
      second.end();
    },
  };
};

/** The file's bytes from the one descriptor, hashed as they are read, and gunzipped here when compressed. */
const tarChunks = (
  handle: FileHandle,
  compressed: boolean,
  fileHash: Hash,
  afterFirstChunk?: () => Promise<void>,
): AsyncIterable<Buffer> => {
  const file = handle.createReadStream({ start: 0, highWaterMark: READ_CHUNK, autoClose: false });
  async function* hashed(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let first = true;
    for await (const chunk of source) {
      fileHash.update(chunk);
      yield chunk;
      if (first) await afterFirstChunk?.();
      first = false;
    }
  }
  if (!compressed) return hashed(file);
  // containerd 1.6 cannot read gzip, and Docker is handed the plain tar too: one inflate, here. Gzip level 0,
  // the exporter's default, is undone without zlib: a third of its CPU, on the cores the runtime needs.
  if (hasZlibCrc32() && isStoredGzipFile(handle.fd)) return storedGunzip(hashed(file));
  return pipeline(file, hashed, createGunzip({ chunkSize: READ_CHUNK }), () => undefined);
};

const NAMING_ORDER: Array<[string, keyof ArchiveDocuments]> = [
  [OCI_LAYOUT_FILE, 'ociLayout'],
  [INDEX_FILE, 'index'],
  [DOCKER_MANIFEST_FILE, 'dockerManifest'],
  [REPOSITORIES_FILE, 'repositories'],
];

/** One archive being read: its descriptor, opened once, and what the checks need. */
export interface Pass {
  path: string;
  handle: FileHandle;
  compressed: boolean;
  options: VerifiedTarOptions;
  /** Set once every entry was read whole: a failure after that leaves the stream at an entry boundary. */
  entriesWhole: boolean;
  /**
   * Blobs an earlier archive of the same stream already passed on: checked here as ever, but not passed on
   * again. Only blobs whose digest the pass checks: the stream lives on past one only if it hashed right.
   */
  passedBlobs?: Set<string>;
}

/** What one archive's pass proved: its summary (with the file's sha256) and the documents that name images. */
export interface Checked {
  summary: ArchiveSummary;
  documents: ArchiveDocuments;
}

/** True for a content-addressed blob the stream already carries; records the others as carried. */
const alreadyPassed = (pass: Pass, name: string, type: string): boolean => {
  const digest = digestOfBlobPath(name);
  if (!pass.passedBlobs || type !== 'File' || !digest || !isSupportedAlgorithm(digestAlgorithm(digest)))
    return false;
  if (pass.passedBlobs.has(name)) return true;
  pass.passedBlobs.add(name);
  return false;
};

/**
 * The verifying pass-through: every entry is checked and every blob hashed as it goes by, and the bytes are
 * passed on, except the documents that make a runtime create names (and the end-of-archive blocks). Those are
 * returned once the file's sha256, every blob digest, every reference and the approval checked out.
 */
export async function* checkedEntries(pass: Pass): AsyncGenerator<Buffer, Checked> {
  const { path, handle, compressed, options } = pass;
  const limit = options.limits?.documentBytes ?? DEFAULT_DOCUMENT_LIMIT;
  const collector = new DocumentCollector(path, { documentBytes: limit });
  const tracker = new ContentTracker(path, limit);
  const walker = new TarWalker(
    path,
    (entry) => {
      checkEntry(path, entry);
      const name = normalizeEntryPath(entry.path);
      return both(collector.sinkFor(name, entry.type, entry.size), tracker.sinkFor(entry, name));
    },
    { holdBack: (name, type) => isNamingDocument(name) || alreadyPassed(pass, name, type) },
  );
  const fileHash = createHash('sha256');
  try {
    for await (const chunk of tarChunks(handle, compressed, fileHash, options.afterFirstChunk)) {
      for (const part of walker.write(chunk)) yield part;
    }
    walker.end();
    pass.entriesWhole = true;
    const sha256 = fileHash.digest('hex');
    if (options.sha256 !== undefined && options.sha256.toLowerCase() !== sha256)
      throw new ChecksumMismatchError(path, options.sha256.toLowerCase(), sha256);
    const summary = summarize(path, compressed, collector.documents);
    const checked = { ...checkReferences(summary, collector.documents, tracker), sha256 };
    await options.approve?.(checked, collector.documents);
    return { summary: checked, documents: collector.documents };
  } catch (error) {
    throw toReadError(path, error);
  } finally {
    await handle.close();
  }
}

/** The documents that name images, in the order a runtime expects them, and the end of the archive. */
export function* namingEntries(documents: ArchiveDocuments): Generator<Buffer> {
  for (const [name, key] of NAMING_ORDER) {
    const bytes = documents[key];
    if (bytes) yield* bufferEntry(name, bytes);
  }
  yield END_OF_ARCHIVE;
}

/** Opens `path` once, for a pass: everything read later comes from this descriptor. */
export const openPass = async (path: string, options: VerifiedTarOptions): Promise<Pass> => {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw toReadError(path, error);
  }
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    const compressed = startsWithGzipMagic(head.subarray(0, bytesRead));
    // Checked before any byte is parsed: read as a tar, gzip-less bytes would only say "truncated".
    if (hasGzipName(path) && !compressed) {
      throw new ArchiveCorruptError(
        `${path}: named like a gzip file but is not gzip-compressed (no gzip magic bytes) — rename it to .tar if it is a plain tar, or copy it again`,
      );
    }
    return { path, handle, compressed, options, entriesWhole: false };
  } catch (error) {
    await handle.close();
    throw toReadError(path, error);
  }
};

export interface Settle {
  resolve: (summary: ArchiveSummary) => void;
  reject: (error: unknown) => void;
}

/** A promise settled from elsewhere; its rejection is not unhandled, as the caller may learn of it first. */
export const settled = (): { promise: Promise<ArchiveSummary>; settle: Settle } => {
  let settle!: Settle;
  const promise = new Promise<ArchiveSummary>((resolve, reject) => {
    settle = { resolve, reject };
  });
  promise.catch(() => undefined);
  return { promise, settle };
};

/** The stream a runtime reads, closing every archive's promise that it never settled when it closes. */
export const toRuntimeStream = (
  chunks: AsyncGenerator<Buffer>,
  unsettled: () => Array<{ path: string; settle: Settle }>,
  cleanup: () => void,
  signal: AbortSignal | undefined,
): Readable => {
  // Without `throw`, a stream destroyed with an error only returns the generator: the runtime's EPIPE is not
  // thrown into the pass, where it would read as the archive's own failure.
  const quiet: AsyncIterableIterator<Buffer> = {
    [Symbol.asyncIterator]: () => quiet,
    next: () => chunks.next(),
    return: (value?: unknown) => chunks.return(value),
  };
  const tar = Readable.from(quiet, { objectMode: false, highWaterMark: READ_CHUNK });
  // A consumer that stops early (the runtime failed) never lets the pass settle: say so.
  tar.once('close', () => {
    for (const { path, settle } of unsettled()) settle.reject(new ImportStoppedError(path));
    cleanup();
  });
  if (signal) addAbortSignal(signal, tar);
  return tar;
};

/**
 * Opens an archive once and returns the tar a runtime imports, verified while it streams: a file swapped or
 * rewritten after the open is never read, so what was checked is what was imported.
 */
export const openVerifiedTar = async (
  path: string,
  options: VerifiedTarOptions = {},
): Promise<VerifiedTar> => {
  const pass = await openPass(path, options);
  const { promise, settle } = settled();
  async function* chunks(): AsyncGenerator<Buffer> {
    let checked: Checked;
    try {
      checked = yield* checkedEntries(pass);
    } catch (error) {
      settle.reject(error);
      throw error;
    }
    settle.resolve(checked.summary);
    yield* namingEntries(checked.documents);
  }
  const tar = toRuntimeStream(
    chunks(),
    () => [{ path, settle }],
    // Closing twice is harmless; a stream destroyed before its first read never ran the generator's cleanup.
    () => void pass.handle.close().catch(() => undefined),
    options.signal,
  );
  return { tar, verified: promise };
};
