import { type ArchiveLimits, DocumentCollector } from './documents.ts';
import { checkEntry, normalizeEntryPath } from './entries.ts';
import { readTar } from './source.ts';
import { type ArchiveSummary, summarize } from './summary.ts';
import { TarWalker } from './tar-reader.ts';

// index.json and manifest.json fit in the first few tar blocks of an exporter archive: a 1 MiB read and
// inflate per archive would make the skip decision for an unchanged set cost more than the listing.
const SUMMARY_CHUNK = 64 * 1024;

/**
 * What an archive holds, read as cheaply as possible: airlock archives put index.json and manifest.json
 * first, so reading stops after a few blocks; foreign archives (docker save writes manifest.json last) take a full pass.
 * Nothing is verified here beyond entry safety: verifyArchive does that.
 */
export const readArchiveSummary = async (
  path: string,
  options: { limits?: ArchiveLimits; signal?: AbortSignal } = {},
): Promise<ArchiveSummary> => {
  const collector = new DocumentCollector(path, options.limits);
  const walker = new TarWalker(path, (entry) => {
    checkEntry(path, entry);
    const sink = collector.sinkFor(normalizeEntryPath(entry.path), entry.type, entry.size);
    return (
      sink && {
        write: sink.write,
        end: () => {
          sink.end();
          if (collector.complete) walker.stop();
        },
      }
    );
  });
  const { compressed } = await readTar(path, {
    chunkBytes: SUMMARY_CHUNK,
    onTarChunk: (chunk) => {
      walker.write(chunk);
      return walker.stopped;
    },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  walker.end();
  return summarize(path, compressed, collector.documents);
};
