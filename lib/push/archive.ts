import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { posix } from 'node:path';
import { ContentTracker, checkReferences } from '../archive/contents.ts';
import { DEFAULT_DOCUMENT_LIMIT, DocumentCollector } from '../archive/documents.ts';
import { checkEntry, normalizeEntryPath } from '../archive/entries.ts';
import { ArchiveCorruptError } from '../archive/errors.ts';
import { ChecksumMismatchError } from '../archive/index.ts';
import { digestOfBlobPath } from '../archive/layout.ts';
import { readTar } from '../archive/source.ts';
import { type ArchiveSummary, configDigestOfPath, summarize } from '../archive/summary.ts';
import { type EntrySink, TarWalker } from '../archive/tar-reader.ts';

/** A regular file of the archive: its digest (from its name, or hashed when the name says nothing) and size. */
export interface ArchiveFile {
  digest: string;
  size: number;
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

/** Records every regular file's digest; names like `<id>/layer.tar` (docker save before 25) are hashed here. */
const fileRecorder = (files: Map<string, ArchiveFile>, name: string, size: number): EntrySink => {
  const named = digestOfBlobPath(name) ?? configDigestOfPath(name);
  if (named?.startsWith('sha256:')) {
    files.set(name, { digest: named, size });
    return { write: () => {}, end: () => {} };
  }
  const hash = createHash('sha256');
  return {
    write: (chunk) => {
      hash.update(chunk);
    },
    end: () => {
      files.set(name, { digest: `sha256:${hash.digest('hex')}`, size });
    },
  };
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

/**
 * One streaming pass that checks the archive as the importer does (the file's sha256 against SHA256SUMS, entry
 * safety, every blob's digest, every reference resolving) and keeps what a push needs to plan: the documents and
 * the digest of every file. No blob is written anywhere: an unchanged set is checked and skipped from this alone.
 */
export const indexArchive = async (
  path: string,
  options: { sha256?: string; signal?: AbortSignal } = {},
): Promise<IndexedArchive> => {
  const collector = new DocumentCollector(path, { documentBytes: DEFAULT_DOCUMENT_LIMIT });
  const tracker = new ContentTracker(path, DEFAULT_DOCUMENT_LIMIT);
  const files = new Map<string, ArchiveFile>();
  const links = new Map<string, string>();
  const walker = new TarWalker(path, (entry) => {
    checkEntry(path, entry);
    const name = normalizeEntryPath(entry.path);
    if (entry.type === 'Link') links.set(name, normalizeEntryPath(entry.linkpath));
    if (entry.type === 'SymbolicLink') {
      links.set(name, normalizeEntryPath(posix.join(posix.dirname(name), entry.linkpath)));
    }
    const recorder = isRegular(entry.type) ? fileRecorder(files, name, entry.size) : undefined;
    return combine([collector.sinkFor(name, entry.type, entry.size), tracker.sinkFor(entry, name), recorder]);
  });
  const fileHash = createHash('sha256');
  const { compressed } = await readTar(path, {
    onFileChunk: (chunk) => fileHash.update(chunk),
    onTarChunk: (chunk) => {
      walker.write(chunk);
      return false;
    },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  walker.end();
  const sha256 = fileHash.digest('hex');
  if (options.sha256 !== undefined && options.sha256.toLowerCase() !== sha256) {
    throw new ChecksumMismatchError(path, options.sha256.toLowerCase(), sha256);
  }
  const stored = new Map<string, string>();
  for (const [name, file] of files) if (!stored.has(file.digest)) stored.set(file.digest, name);
  resolveLinks(files, links);
  const summary = checkReferences(
    summarize(path, compressed, collector.documents),
    collector.documents,
    tracker,
  );
  return {
    summary: { ...summary, sha256 },
    document: (digest, role) => tracker.document(digest, role),
    ...(collector.documents.dockerManifest ? { dockerManifest: collector.documents.dockerManifest } : {}),
    files,
    stored,
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
