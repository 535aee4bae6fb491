import { createHash } from 'node:crypto';
import { ContentTracker, checkReferences } from './contents.ts';
import { type ArchiveLimits, DEFAULT_DOCUMENT_LIMIT, DocumentCollector } from './documents.ts';
import { checkEntry, normalizeEntryPath } from './entries.ts';
import { ChecksumMismatchError } from './errors.ts';
import { readTar } from './source.ts';
import { type ArchiveSummary, summarize } from './summary.ts';
import type { EntrySink } from './tar-reader.ts';
import { TarWalker } from './tar-reader.ts';

export interface VerifyArchiveOptions {
  /** Expected hex sha256 of the whole file (from SHA256SUMS). */
  sha256?: string;
  limits?: ArchiveLimits;
  signal?: AbortSignal;
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

/**
 * One streaming pass that proves an archive is safe and whole before a runtime sees it: the file's sha256,
 * gzip integrity, every tar entry's path and type, every blob's digest, and every reference resolving inside
 * the archive. It reads each byte once and keeps only small JSON documents in memory.
 */
export const verifyArchive = async (
  path: string,
  options: VerifyArchiveOptions = {},
): Promise<ArchiveSummary> => {
  const limit = options.limits?.documentBytes ?? DEFAULT_DOCUMENT_LIMIT;
  const collector = new DocumentCollector(path, { documentBytes: limit });
  const tracker = new ContentTracker(path, limit);
  const walker = new TarWalker(path, (entry) => {
    checkEntry(path, entry);
    const name = normalizeEntryPath(entry.path);
    return both(collector.sinkFor(name, entry.type, entry.size), tracker.sinkFor(entry, name));
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
  const summary = summarize(path, compressed, collector.documents);
  return { ...checkReferences(summary, collector.documents, tracker), sha256 };
};
