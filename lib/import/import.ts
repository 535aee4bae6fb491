import path from 'node:path';
import pLimit from 'p-limit';
import { type ArchiveSummary, CHECKSUMS_FILE, readArchiveSummary, readChecksums } from '../archive/index.ts';
import { AirlockError } from '../errors.ts';
import type { Logger } from '../report/log.ts';
import { formatResultLine, type ImageResult } from '../report/results.ts';
import { withRetries } from '../retry.ts';
import type { ContainerRuntime } from '../runtime/index.ts';
import { type ImageListInput, loadAllowlist } from './allowlist.ts';
import { type ArchiveRun, prepareArchive } from './archive-step.ts';
import { type ArchiveListing, listArchives } from './archives.ts';
import { importGroup, planBatches } from './batch.ts';
import { indexRuntimeImages } from './present.ts';

export interface ImportArchivesOptions {
  dir: string;
  /** The directory's listing when the caller already read it (for its log header); read here otherwise. */
  listing?: ArchiveListing;
  runtime: ContainerRuntime;
  /** The release's image references (--images / AIRLOCK_IMAGES); images.json's names when absent. */
  images?: ImageListInput;
  /** Import even without SHA256SUMS (--allow-unverified), with a loud warning. */
  allowUnverified?: boolean;
  concurrency: number;
  retries: number;
  /** Per archive, in milliseconds. */
  timeoutMs: number;
  logger: Logger;
  signal?: AbortSignal;
  /** Called with each result as soon as its archive is done. */
  onResult?: (result: ImageResult) => void;
  /** Test seam: runs after the first chunk of each archive was read from its open descriptor. */
  afterFirstChunk?: (file: string) => Promise<void>;
}

export interface ImportReport {
  archives: string[];
  ignored: string[];
  verified: boolean;
  results: ImageResult[];
}

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

/** SHA256SUMS, which is required unless the operator said otherwise, loudly. */
const requireChecksums = async (
  options: ImportArchivesOptions,
  archives: readonly string[],
): Promise<Map<string, string> | undefined> => {
  const checksums = await readChecksums(options.dir);
  // An empty directory has nothing to check: "nothing to do", as before.
  if (checksums || archives.length === 0) return checksums;
  const file = path.join(options.dir, CHECKSUMS_FILE);
  if (!options.allowUnverified) {
    throw new AirlockError(
      'NOT_FOUND',
      `${file} is missing, so no archive can be checked — copy SHA256SUMS from the export next to the archives, or pass --allow-unverified (AIRLOCK_ALLOW_UNVERIFIED=true) to import without checksums`,
    );
  }
  options.logger.warn(
    `UNVERIFIED IMPORT: ${file} is missing and --allow-unverified is set — archives are imported without checksums; whoever can write to ${options.dir} decides what this node runs`,
  );
  return undefined;
};

/** Imports every archive of a directory; one archive's failure never stops the others. */
export const importArchives = async (options: ImportArchivesOptions): Promise<ImportReport> => {
  const { dir, runtime, logger } = options;
  const { archives, ignored } = options.listing ?? (await listArchives(dir));
  for (const name of ignored) logger.info(`ignored   ${name}  (not .tar, .tar.gz or .tgz)`);
  const checksums = await requireChecksums(options, archives);
  const allowlist =
    archives.length === 0
      ? { source: '', names: new Map(), recorded: new Map() }
      : await loadAllowlist(dir, options.images);
  const results: ImageResult[] = [];
  const report = (result: ImageResult) => {
    results.push(result);
    logger.info(formatResultLine(result));
    options.onResult?.(result);
  };

  // Entries with a `/` are the importer runtime (importer/linux-<arch>/…), not archives.
  for (const listed of checksums?.keys() ?? []) {
    if (listed.includes('/') || archives.includes(listed)) continue;
    report({
      image: listed,
      outcome: 'failed',
      seconds: 0,
      code: 'NOT_FOUND',
      reason: `listed in SHA256SUMS but missing from ${dir} — copy it again`,
    });
  }

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

  const run: ArchiveRun = {
    dir,
    runtime,
    logger,
    retries: options.retries,
    timeoutMs: options.timeoutMs,
    ...(options.signal ? { signal: options.signal } : {}),
    checksums,
    allowlist,
    present,
    summaries,
    importing: pLimit(Math.max(1, options.concurrency)),
    ...(options.afterFirstChunk ? { afterFirstChunk: options.afterFirstChunk } : {}),
  };
  const prepared = await Promise.all(
    archives.map(async (name) => {
      const outcome = await prepareArchive(run, name);
      if ('outcome' in outcome) report(outcome);
      else return outcome;
    }),
  );
  const pending = prepared.filter((archive) => archive !== undefined);
  const groups = planBatches(pending, { shared: runtime.sharesImports, concurrency: options.concurrency });
  await Promise.all(groups.map((group) => importGroup(run, group, report)));
  return { archives, ignored, verified: checksums !== undefined, results };
};
