import { stat } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import {
  type ArchiveSummary,
  openTarStream,
  readArchiveSummary,
  readChecksums,
  verifyArchive,
} from '../archive/index.ts';
import { AirlockError, describeError, isAirlockError } from '../errors.ts';
import type { Logger } from '../report/log.ts';
import { formatResultLine, type ImageResult } from '../report/results.ts';
import type { ContainerRuntime } from '../runtime/index.ts';
import { type ArchiveListing, listArchives } from './archives.ts';
import { expectedNames, indexRuntimeImages, isPresent } from './present.ts';
import { withRetries } from './retry.ts';

export interface ImportArchivesOptions {
  dir: string;
  /** The directory's listing when the caller already read it (for its log header); read here otherwise. */
  listing?: ArchiveListing;
  runtime: ContainerRuntime;
  concurrency: number;
  retries: number;
  /** Per archive, in milliseconds. */
  timeoutMs: number;
  logger: Logger;
  signal?: AbortSignal;
  /** Called with each result as soon as its archive is done. */
  onResult?: (result: ImageResult) => void;
}

export interface ImportReport {
  archives: string[];
  ignored: string[];
  verified: boolean;
  results: ImageResult[];
}

const seconds = (since: number) => (performance.now() - since) / 1000;

// Summaries come from the first entries of an exporter archive: reading several at once keeps the skip
// decision for an unchanged set from waiting on one file after another.
const SUMMARY_READERS = 4;

/**
 * Every name an archive could already be present under: its images' names, and their config digests, by
 * which containerd's CRI also names each image. Archives whose summary failed are left to their own task.
 */
const namesToLookUp = async (summaries: Iterable<Promise<ArchiveSummary>>): Promise<string[]> => {
  const names = new Set<string>();
  for (const settled of await Promise.allSettled(summaries)) {
    if (settled.status === 'rejected') continue;
    for (const image of settled.value.images) {
      for (const name of image.names) names.add(name);
      if (image.configDigest) names.add(image.configDigest);
    }
  }
  return [...names];
};

/** Imports every archive of a directory; one archive's failure never stops the others. */
export const importArchives = async (options: ImportArchivesOptions): Promise<ImportReport> => {
  const { dir, runtime, logger } = options;
  const { archives, ignored } = options.listing ?? (await listArchives(dir));
  for (const name of ignored) logger.info(`ignored   ${name}  (not .tar, .tar.gz or .tgz)`);
  const checksums = await readChecksums(dir);
  const results: ImageResult[] = [];
  const report = (result: ImageResult) => {
    results.push(result);
    logger.info(formatResultLine(result));
    options.onResult?.(result);
  };

  if (checksums) {
    for (const listed of checksums.keys()) {
      // importer/... lines are the runtime's own files, checked by the importer at start.
      if (archives.includes(listed) || listed.startsWith('importer/')) continue;
      report({
        image: listed,
        outcome: 'failed',
        seconds: 0,
        code: 'NOT_FOUND',
        reason: `listed in SHA256SUMS but missing from ${dir} — copy it again`,
      });
    }
  }

  /** The names the import must create; throws unless the whole archive checks out. */
  const verifyForImport = async (name: string, file: string): Promise<string[]> => {
    const expected = checksums?.get(name);
    if (checksums && expected === undefined)
      logger.warn(`${name}: not listed in SHA256SUMS, imported without a checksum`);
    const verified = await verifyArchive(file, expected ? { sha256: expected } : {});
    for (const image of verified.images) {
      if (runtime.kind !== 'docker' || expectedNames(image, 'docker').length > 0) continue;
      logger.warn(
        `${name}: Docker cannot name an image by digest from an archive: ${image.names.join(', ')} goes in as image ${image.configDigest ?? '(no ID)'} without a name — pods on this node that reference it by digest will try to pull it; reference it by tag, or use containerd`,
      );
    }
    return verified.images.flatMap((image) => expectedNames(image, runtime.kind));
  };

  /**
   * The runtime's own report usually names everything it created; listing every image on the node after each
   * archive would cost a call that grows with the node's image count.
   */
  const confirmNames = async (name: string, names: readonly string[], reported: ReadonlySet<string>) => {
    let missing = names.filter((imageName) => !reported.has(imageName));
    if (missing.length > 0) {
      const after = indexRuntimeImages(await withRetries(() => runtime.listImages(missing), options));
      missing = missing.filter((imageName) => !after.has(imageName));
    }
    if (missing.length > 0) {
      throw new AirlockError(
        'ARCHIVE_CORRUPT',
        `${name}: imported, but the runtime has no image named ${missing.join(', ')}`,
      );
    }
  };

  const readAhead = pLimit(SUMMARY_READERS);
  const summaries = new Map(
    archives.map((name) => [name, readAhead(() => readArchiveSummary(path.join(dir, name)))]),
  );
  // Each archive's own task reports its failure; until it awaits it, nothing else may.
  for (const pending of summaries.values()) pending.catch(() => undefined);
  // One listing for the whole run, of the names the archives hold: the skip decision for an unchanged set
  // costs one call, not one per archive, and does not grow with the node's other images.
  const wanted = await namesToLookUp(summaries.values());
  const present = indexRuntimeImages(await withRetries(() => runtime.listImages(wanted), options));

  const concurrency = Math.max(1, options.concurrency);
  // The runtime imports one archive (per slot) at a time; the next archive is verified meanwhile, so the
  // runtime never waits on our read pass. Only one archive per slot runs ahead, so it is still in the page
  // cache when the runtime reads it.
  const inFlight = pLimit(concurrency + 1);
  const importing = pLimit(concurrency);

  await Promise.all(
    archives.map(async (name) => {
      let started = performance.now();
      const file = path.join(dir, name);
      // Time spent waiting for the runtime to finish the previous archive is not this archive's.
      const waited = (since: number) => {
        started += performance.now() - since;
      };
      try {
        const done = await inFlight(async () => {
          started = performance.now();
          options.signal?.throwIfAborted();
          const bytes = (await stat(file)).size;
          const summary = await summaries.get(name)!;
          if (isPresent(summary.images, present, runtime.kind)) {
            report({
              image: name,
              outcome: 'skipped',
              seconds: seconds(started),
              bytes,
              reason: 'already present with the same digest',
              names: summary.images.flatMap((image) => expectedNames(image, runtime.kind)),
            });
            return undefined;
          }
          const names = await verifyForImport(name, file);
          const queued = performance.now();
          const imported = await importing(() => {
            waited(queued);
            return withRetries(
              () =>
                runtime.importTar(openTarStream(file, { decompress: !runtime.readsGzip }), {
                  timeoutMs: options.timeoutMs,
                  ...(options.signal ? { signal: options.signal } : {}),
                }),
              options,
            );
          });
          return { bytes, names, reported: new Set(imported.names) };
        });
        if (!done) return;
        // Pinning and confirming the names run beside the next archive's import.
        const { bytes, names, reported } = done;
        if (runtime.kind === 'containerd' && names.length > 0)
          await withRetries(() => runtime.pin(names), options);
        await confirmNames(name, names, reported);
        report({ image: name, outcome: 'imported', seconds: seconds(started), bytes, names });
      } catch (error) {
        report({
          image: name,
          outcome: 'failed',
          seconds: seconds(started),
          reason: describeError(error),
          ...(isAirlockError(error) ? { code: error.code } : {}),
        });
      }
    }),
  );
  return { archives, ignored, verified: checksums !== undefined, results };
};
