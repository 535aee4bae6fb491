import { type ArchiveSummary, ImportStoppedError, openVerifiedBatch } from '../archive/index.ts';
import { describeError } from '../errors.ts';
import { failedResult, type ImageResult } from '../report/results.ts';
import {
  type ArchiveRun,
  finishImported,
  importAlone,
  importOptions,
  type PendingArchive,
  verifyOptions,
} from './archive-step.ts';

/**
 * Small archives share one runtime import: a `ctr images import` costs a process start and a final pass over
 * its images whatever it carries. Bounded, so each group's result lines come while the rest still streams, and
 * so an archive that stops a stream costs the others little.
 */
export const BATCH_ARCHIVES = 32;
export const BATCH_BYTES = 256 * 1024 * 1024;

/**
 * Groups the archives into import streams: OCI layouts together, in order, up to the bounds, and at least as
 * many groups as import slots; every other archive alone.
 */
export const planBatches = (
  pending: readonly PendingArchive[],
  options: { shared: boolean; concurrency: number },
): PendingArchive[][] => {
  const alone = (archive: PendingArchive) => !options.shared || archive.summary.format === 'docker';
  const layouts = pending.filter((archive) => !alone(archive));
  const perGroup = Math.min(BATCH_ARCHIVES, Math.ceil(layouts.length / Math.max(1, options.concurrency)));
  const groups: PendingArchive[][] = [];
  let group: PendingArchive[] = [];
  let bytes = 0;
  for (const archive of layouts) {
    if (group.length > 0 && (group.length >= perGroup || bytes + archive.bytes > BATCH_BYTES)) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(archive);
    bytes += archive.bytes;
  }
  if (group.length > 0) groups.push(group);
  return [...groups, ...pending.filter(alone).map((archive) => [archive])];
};

/** Streams a group in one import and sorts its archives: imported, failed on their own, or to go again. */
const streamGroup = async (run: ArchiveRun, group: readonly PendingArchive[]) => {
  const { tar, verified } = openVerifiedBatch(
    group.map((pending) => ({ path: pending.file, options: verifyOptions(run, pending) })),
    run.signal,
  );
  let reported = new Set<string>();
  let failure: unknown;
  try {
    reported = new Set((await run.runtime.importTar(tar, importOptions(run, group.length))).names);
  } catch (error) {
    failure = error;
  }
  return { outcomes: await Promise.allSettled(verified), reported, failure };
};

/**
 * Imports a group in one stream. An archive refused on its own is reported; the others went into the runtime
 * without their names, and go again without it. When the runtime failed with no archive to blame, each goes
 * alone, so that whichever archive it was gets the runtime's own words.
 */
export const importGroup = async (
  run: ArchiveRun,
  group: readonly PendingArchive[],
  report: (result: ImageResult) => void,
): Promise<void> => {
  const [only] = group;
  if (group.length === 1 && only) {
    for (const result of await importAlone(run, only)) report(result);
    return;
  }
  let started = performance.now();
  run.logger.debug(`one import for ${group.map((pending) => pending.name).join(', ')}`);
  const { outcomes, reported, failure } = await run.importing(() => {
    started = performance.now();
    return streamGroup(run, group);
  });
  const done: Array<{ pending: PendingArchive; summary: ArchiveSummary }> = [];
  const again: PendingArchive[] = [];
  let refused = 0;
  for (const [position, pending] of group.entries()) {
    const outcome = outcomes[position]!;
    if (outcome.status === 'rejected' && !(outcome.reason instanceof ImportStoppedError)) {
      report(failedResult(pending.name, started, outcome.reason));
      refused += 1;
    } else if (outcome.status === 'fulfilled' && failure === undefined) {
      done.push({ pending, summary: outcome.value });
    } else {
      again.push(pending);
    }
  }
  if (done.length > 0)
    for (const result of await finishImported(run, done, reported, started)) report(result);
  if (again.length === 0) return;
  if (run.signal?.aborted) {
    for (const pending of again) report(failedResult(pending.name, started, run.signal.reason));
    return;
  }
  if (failure !== undefined && refused === 0) {
    run.logger.warn(
      `${group.length} archives in one import failed: ${describeError(failure)} — importing them one at a time`,
    );
  }
  const retry = failure !== undefined && refused > 0 ? [again] : again.map((pending) => [pending]);
  await Promise.all(retry.map((next) => importGroup(run, next, report)));
};
