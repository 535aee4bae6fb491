import { stat } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { openTarStream, readArchiveSummary, readChecksums, verifyArchive } from '../archive/index.ts';
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
      if (archives.includes(listed)) continue;
      report({
        image: listed,
        outcome: 'failed',
        seconds: 0,
        code: 'NOT_FOUND',
        reason: `listed in SHA256SUMS but missing from ${dir} — copy it again`,
      });
    }
  }

  // One listing for the whole run: the skip decision for an unchanged set costs one call, not one per archive.
  const present = indexRuntimeImages(await withRetries(() => runtime.listImages(), options));
  const limit = pLimit(Math.max(1, options.concurrency));
  const readAhead = pLimit(SUMMARY_READERS);
  const summaries = new Map(
    archives.map((name) => [name, readAhead(() => readArchiveSummary(path.join(dir, name)))]),
  );
  // Each archive's own task reports its failure; until it awaits it, nothing else may.
  for (const pending of summaries.values()) pending.catch(() => undefined);

  await Promise.all(
    archives.map((name) =>
      limit(async () => {
        const started = performance.now();
        const file = path.join(dir, name);
        try {
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
            return;
          }
          const expected = checksums?.get(name);
          if (checksums && expected === undefined)
            logger.warn(`${name}: not listed in SHA256SUMS, imported without a checksum`);
          const verified = await verifyArchive(file, expected ? { sha256: expected } : {});
          const names = verified.images.flatMap((image) => expectedNames(image, runtime.kind));
          for (const image of verified.images) {
            if (runtime.kind !== 'docker' || expectedNames(image, 'docker').length > 0) continue;
            logger.warn(
              `${name}: Docker cannot name an image by digest from an archive: ${image.names.join(', ')} goes in as image ${image.configDigest ?? '(no ID)'} without a name — pods on this node that reference it by digest will try to pull it; reference it by tag, or use containerd`,
            );
          }

          const imported = await withRetries(
            () =>
              runtime.importTar(openTarStream(file), {
                timeoutMs: options.timeoutMs,
                ...(options.signal ? { signal: options.signal } : {}),
              }),
            options,
          );
          if (runtime.kind === 'containerd' && names.length > 0)
            await withRetries(() => runtime.pin(names), options);

          // The runtime's own report usually names everything it created; listing every image on the node
          // after each archive would cost a call that grows with the node's image count.
          const reported = new Set(imported.names);
          let missing = names.filter((imageName) => !reported.has(imageName));
          if (missing.length > 0) {
            const after = indexRuntimeImages(await withRetries(() => runtime.listImages(), options));
            missing = missing.filter((imageName) => !after.has(imageName));
          }
          if (missing.length > 0) {
            throw new AirlockError(
              'ARCHIVE_CORRUPT',
              `${name}: imported, but the runtime has no image named ${missing.join(', ')}`,
            );
          }
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
    ),
  );
  return { archives, ignored, verified: checksums !== undefined, results };
};
