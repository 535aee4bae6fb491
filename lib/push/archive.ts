import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { posix } from 'node:path';
import { ContentTracker, checkReferences } from '../archive/contents.ts';
import { DEFAULT_DOCUMENT_LIMIT, DocumentCollector } from '../archive/documents.ts';
import { checkEntry, linkTargetOf, normalizeEntryPath } from '../archive/entries.ts';
import { ArchiveCorruptError, ChecksumMismatchError } from '../archive/errors.ts';
import { isGzipFile } from '../archive/gzip.ts';
import { digestOfBlobPath } from '../archive/layout.ts';
import { readTar, toReadError } from '../archive/source.ts';
import { type ArchiveSummary, configDigestOfPath, summarize } from '../archive/summary.ts';
import { type EntrySink, type TarEntry, TarWalker } from '../archive/tar-reader.ts';
import { sha256File } from '../files.ts';

/** A regular file of the archive: its digest (from its name, or hashed when the name says nothing) and size. */
export interface ArchiveFile {
  digest: string;
  size: number;
  /** Where the bytes start in the tar stream; with an uncompressed archive, in the file itself. */
  offset?: number;
}

/** What one verifying pass learned: the summary, the small JSON blobs, and where every file's bytes are. */
export interface IndexedArchive {
  summary: ArchiveSummary;
  /** Bytes of a manifest, index or config blob by digest (throws naming the archive when it is missing). */
  document(digest: string, role: string): Buffer;
  /** manifest.json of a Docker archive, as stored. */
  dockerManifest?: Buffer;
  /** Entry path (links resolved) -> digest and size. */
  files: Map<string, ArchiveFile>;
  /** Digest -> the path of a regular entry holding those bytes, for extraction. */
  stored: Map<string, string>;
  /**
   * Settles once the whole file's sha256 was compared with SHA256SUMS; rejects with ChecksumMismatchError. An
   * uncompressed archive is hashed while its blobs go up: nothing may be tagged before this resolves.
   */
  verified: Promise<void>;
}

const MAX_LINK_HOPS = 16;

const combine = (sinks: (EntrySink | undefined)[]): EntrySink | undefined => {
  const present = sinks.filter((sink): sink is EntrySink => sink !== undefined);
  if (present.length <= 1) return present[0];
  return {
    write: (chunk) => {
      for (const sink of present) sink.write(chunk);
    },
    end: () => {
      for (const sink of present) sink.end();
    },
  };
};

const isRegular = (type: string) => type === 'File' || type === 'OldFile' || type === 'ContiguousFile';

/**
 * Records every regular file's digest and where its bytes are. Names like `<id>/layer.tar` (docker save before 25)
 * are hashed here; a file named by its digest needs no byte of its own, so a layer can be read past.
 */
const fileRecorder = (
  files: Map<string, ArchiveFile>,
  name: string,
  entry: TarEntry,
): EntrySink | undefined => {
  const named = digestOfBlobPath(name) ?? configDigestOfPath(name);
  const record = (digest: string) => files.set(name, { digest, size: entry.size, offset: entry.offset });
  if (named?.startsWith('sha256:')) {
    record(named);
    return undefined;
  }
  const hash = createHash('sha256');
  return { write: (chunk) => hash.update(chunk), end: () => record(`sha256:${hash.digest('hex')}`) };
};

const resolveLinks = (files: Map<string, ArchiveFile>, links: Map<string, string>) => {
  for (const [link] of links) {
    let current = link;
    for (let hop = 0; hop < MAX_LINK_HOPS && !files.has(current); hop += 1) {
      const next = links.get(current);
      if (next === undefined) break;
      current = next;
    }
    const target = files.get(current);
    if (target) files.set(link, target);
  }
};

/** Compares a file's sha256 with the one SHA256SUMS gives for it. */
const checkSha256 = (path: string, expected: string | undefined, actual: string): void => {
  if (expected === undefined || expected.toLowerCase() === actual) return;
  throw new ChecksumMismatchError(path, expected.toLowerCase(), actual);
};

/** The sink of each entry: documents, the content tracker's checks, and where the file's bytes are. */
const entryVisitor = (
  path: string,
  state: {
    collector: DocumentCollector;
    tracker: ContentTracker;
    files: Map<string, ArchiveFile>;
    links: Map<string, string>;
  },
) => {
  const { collector, tracker, files, links } = state;
  return (entry: TarEntry): EntrySink | undefined => {
    checkEntry(path, entry, { linkTo: (target) => files.has(target) });
    const name = normalizeEntryPath(entry.path);
    if (entry.type === 'Link' || entry.type === 'SymbolicLink') {
      links.set(name, linkTargetOf(entry));
      tracker.alias(name);
    }
    const recorder = isRegular(entry.type) ? fileRecorder(files, name, entry) : undefined;
    // The tracker records every file, and hashes what it is given. A blob larger than any document (a layer) is
    // left unhashed here: the registry refuses a blob whose bytes miss the digest of the upload, an extracted blob
    // is hashed on its way out, and SHA256SUMS covers the whole file. Hashing it here too cost a third pass.
    const contents = tracker.sinkFor(entry, name);
    return combine([
      collector.sinkFor(name, entry.type, entry.size),
      entry.size <= DEFAULT_DOCUMENT_LIMIT ? contents : undefined,
      recorder,
    ]);
  };
};

/**
 * One pass that checks the archive as the importer does (entry safety, every document's digest, every reference
 * resolving) and keeps what a push needs to plan: the documents and the digest of every file. A gzip'ed archive
 * has its sha256 checked in that pass, before any byte goes up. An uncompressed one (read in place by the upload)
 * has its layers seeked past, and is hashed by a second reader beside the upload; `verified` says when it matched. No blob is written
 * anywhere: an unchanged set is checked and skipped from this alone.
 */
export const indexArchive = async (
  path: string,
  options: { sha256?: string; signal?: AbortSignal } = {},
): Promise<IndexedArchive> => {
  const collector = new DocumentCollector(path, { documentBytes: DEFAULT_DOCUMENT_LIMIT });
  const tracker = new ContentTracker(path, DEFAULT_DOCUMENT_LIMIT);
  const files = new Map<string, ArchiveFile>();
  const links = new Map<string, string>();
  const walker = new TarWalker(path, entryVisitor(path, { collector, tracker, files, links }));
  const compressed = await isGzipFile(path).catch((error: unknown) => {
    throw toReadError(path, error);
  });
  // A plain tar is hashed from the first byte on, alongside this pass and the uploads that follow it.
  const plainHash = compressed ? undefined : sha256File(path, options.signal);
  plainHash?.catch(() => undefined);
  const fileHash = createHash('sha256');
  try {
    await readTar(path, {
      ...(compressed ? { onFileChunk: (chunk: Buffer) => fileHash.update(chunk) } : {}),
      onTarChunk: (chunk) => {
        walker.write(chunk);
        return false;
      },
      // A plain tar's layers are read past: the upload reads them, and the file's hash covers them.
      skip: (available) => walker.skipBody(available),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    walker.end();
  } catch (error) {
    // A damaged file fails here as often as not (a blob's digest, a header): SHA256SUMS names the cause.
    if (plainHash) checkSha256(path, options.sha256, await plainHash);
    throw error;
  }
  if (compressed) checkSha256(path, options.sha256, fileHash.digest('hex'));
  const stored = new Map<string, string>();
  for (const [name, file] of files) if (!stored.has(file.digest)) stored.set(file.digest, name);
  resolveLinks(files, links);
  const summary = checkReferences(
    summarize(path, compressed, collector.documents),
    collector.documents,
    tracker,
  );
  // Offsets in the tar stream are offsets in the file only when nothing was compressed.
  if (compressed) for (const file of files.values()) delete file.offset;
  const verified = plainHash
    ? plainHash.then((sha256) => checkSha256(path, options.sha256, sha256))
    : Promise.resolve();
  verified.catch(() => undefined);
  return {
    summary,
    document: (digest, role) => tracker.document(digest, role),
    ...(collector.documents.dockerManifest ? { dockerManifest: collector.documents.dockerManifest } : {}),
    files,
    stored,
    verified,
  };
};

/**
 * Copies the wanted blobs out of the archive into `dir/<hex>` in one streaming pass (gzip undone on the way),
 * hashing each again: the file may have changed since it was checked.
 */
export const extractBlobs = async (
  path: string,
  /** Entry path -> digest of its bytes. */
  wanted: ReadonlyMap<string, string>,
  dir: string,
  signal?: AbortSignal,
): Promise<Map<string, string>> => {
  const written = new Map<string, string>();
  const walker = new TarWalker(path, (entry) => {
    const name = normalizeEntryPath(entry.path);
    const digest = wanted.get(name);
    if (!digest || written.has(digest) || !isRegular(entry.type)) return undefined;
    const target = posix.join(dir, digest.replace(':', '-'));
    const descriptor = openSync(target, 'w');
    const hash = createHash('sha256');
    return {
      write: (chunk) => {
        hash.update(chunk);
        writeSync(descriptor, chunk);
      },
      end: () => {
        closeSync(descriptor);
        const actual = `sha256:${hash.digest('hex')}`;
        if (actual !== digest) {
          throw new ArchiveCorruptError(
            `${path}: ${name} hashes to ${actual} now, not ${digest} as when it was checked — the file changed during the push`,
          );
        }
        written.set(digest, target);
      },
    };
  });
  await readTar(path, {
    onTarChunk: (chunk) => {
      walker.write(chunk);
      return written.size === new Set(wanted.values()).size;
    },
    ...(signal ? { signal } : {}),
  });
  return written;
};
