import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { addAbortSignal, pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ContentTracker, checkReferences } from './contents.ts';
import {
  type ArchiveLimits,
  DEFAULT_DOCUMENT_LIMIT,
  DocumentCollector,
  isNamingDocument,
} from './documents.ts';
import { checkEntry, normalizeEntryPath } from './entries.ts';
import { ArchiveCorruptError, ChecksumMismatchError } from './errors.ts';
import { hasGzipName, startsWithGzipMagic } from './gzip.ts';
import { DOCKER_MANIFEST_FILE, INDEX_FILE, OCI_LAYOUT_FILE, REPOSITORIES_FILE } from './layout.ts';
import { toReadError } from './source.ts';
import { type ArchiveDocuments, type ArchiveSummary, summarize } from './summary.ts';
import { type EntrySink, TarWalker } from './tar-reader.ts';
import { bufferEntry, END_OF_ARCHIVE } from './tar-writer.ts';

const READ_CHUNK = 1 << 20;

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
  // containerd 1.6 cannot read gzip, and Docker is handed the plain tar too: one inflate, here.
  return pipeline(file, hashed, createGunzip({ chunkSize: READ_CHUNK }), () => undefined);
};

const NAMING_ORDER: Array<[string, keyof ArchiveDocuments]> = [
  [OCI_LAYOUT_FILE, 'ociLayout'],
  [INDEX_FILE, 'index'],
  [DOCKER_MANIFEST_FILE, 'dockerManifest'],
  [REPOSITORIES_FILE, 'repositories'],
];

interface Pass {
  path: string;
  handle: FileHandle;
  compressed: boolean;
  options: VerifiedTarOptions;
  settle: { resolve: (summary: ArchiveSummary) => void; reject: (error: unknown) => void };
}

/**
 * The verifying pass-through: every entry is checked and every blob hashed as it goes by, and the bytes are
 * passed on, except the documents that make a runtime create names (and the end-of-archive blocks). Those
 * follow only once the file's sha256, every blob digest, every reference and the approval checked out.
 */
async function* verifiedChunks({ path, handle, compressed, options, settle }: Pass): AsyncGenerator<Buffer> {
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
    { holdBack: isNamingDocument },
  );
  const fileHash = createHash('sha256');
  try {
    for await (const chunk of tarChunks(handle, compressed, fileHash, options.afterFirstChunk)) {
      for (const part of walker.write(chunk)) yield part;
    }
    walker.end();
    const sha256 = fileHash.digest('hex');
    if (options.sha256 !== undefined && options.sha256.toLowerCase() !== sha256)
      throw new ChecksumMismatchError(path, options.sha256.toLowerCase(), sha256);
    const summary = summarize(path, compressed, collector.documents);
    const checked = { ...checkReferences(summary, collector.documents, tracker), sha256 };
    await options.approve?.(checked, collector.documents);
    settle.resolve(checked);
  } catch (error) {
    const mapped = toReadError(path, error);
    settle.reject(mapped);
    throw mapped;
  } finally {
    await handle.close();
  }
  for (const [name, key] of NAMING_ORDER) {
    const bytes = collector.documents[key];
    if (bytes) yield* bufferEntry(name, bytes);
  }
  yield END_OF_ARCHIVE;
}

/**
 * Opens an archive once and returns the tar a runtime imports, verified while it streams: a file swapped or
 * rewritten after the open is never read, so what was checked is what was imported.
 */
export const openVerifiedTar = async (
  path: string,
  options: VerifiedTarOptions = {},
): Promise<VerifiedTar> => {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw toReadError(path, error);
  }
  let compressed: boolean;
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    compressed = startsWithGzipMagic(head.subarray(0, bytesRead));
    // Checked before any byte is parsed: read as a tar, gzip-less bytes would only say "truncated".
    if (hasGzipName(path) && !compressed) {
      throw new ArchiveCorruptError(
        `${path}: named like a gzip file but is not gzip-compressed (no gzip magic bytes) — rename it to .tar if it is a plain tar, or copy it again`,
      );
    }
  } catch (error) {
    await handle.close();
    throw toReadError(path, error);
  }
  let settle!: Pass['settle'];
  const verified = new Promise<ArchiveSummary>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // The caller may learn of a failure from the runtime first; this promise must not count as unhandled.
  verified.catch(() => undefined);
  const tar = Readable.from(verifiedChunks({ path, handle, compressed, options, settle }), {
    objectMode: false,
    highWaterMark: READ_CHUNK,
  });
  // A consumer that stops early (the runtime failed) never lets the pass settle: say so.
  tar.once('close', () => {
    settle.reject(new ArchiveCorruptError(`${path}: the import stopped before the archive was read`));
    // Closing twice is harmless; a stream destroyed before its first read never ran the generator's cleanup.
    handle.close().catch(() => undefined);
  });
  if (options.signal) addAbortSignal(options.signal, tar);
  return { tar, verified };
};
