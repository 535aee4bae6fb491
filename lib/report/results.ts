import { describeErrorFor, type ErrorCode, isAirlockError } from '../errors.ts';
import { formatBytes, formatSeconds, formatTable } from './format.ts';

/** What happened to one image, in the exporter or the importer. Failures are results, not exceptions. */
export type Outcome = 'exported' | 'imported' | 'pushed' | 'skipped' | 'failed';

export interface ImageResult {
  /** The image reference (exporter) or archive file name (importer). */
  image: string;
  outcome: Outcome;
  seconds: number;
  bytes?: number;
  file?: string;
  digest?: string;
  names?: string[];
  /** Why it was skipped or why it failed, in one line, without the image (the line printer puts it first). */
  reason?: string;
  code?: ErrorCode;
}

/** Seconds since a `performance.now()` reading: every result's duration is measured the same way. */
export const secondsSince = (started: number): number => (performance.now() - started) / 1000;

/** The result of an image (or archive) that failed: the error's reason, its subject left out when it is this image, and its stable code. */
export const failedResult = (image: string, started: number, error: unknown): ImageResult => ({
  image,
  outcome: 'failed',
  seconds: secondsSince(started),
  reason: describeErrorFor(image, error),
  ...(isAirlockError(error) ? { code: error.code } : {}),
});

export const countOutcomes = (results: readonly ImageResult[]): Record<Outcome, number> => {
  const counts: Record<Outcome, number> = { exported: 0, imported: 0, pushed: 0, skipped: 0, failed: 0 };
  for (const result of results) counts[result.outcome] += 1;
  return counts;
};

/** One line per image as it finishes: `imported  nginx_1.25.tar  12.0 MiB  1.52s`. */
export const formatResultLine = (result: ImageResult): string => {
  const parts = [result.outcome.padEnd(8), result.image];
  if (result.bytes !== undefined) parts.push(formatBytes(result.bytes));
  parts.push(formatSeconds(result.seconds));
  if (result.reason) parts.push(`— ${result.reason}`);
  return parts.join('  ');
};

/** `error:`-line text for a failed image: the image once, the reason, and the stable code operators grep for. */
export const formatFailureLine = (result: ImageResult): string => {
  // A reason that already starts with the image (an error about it, kept whole) names it once.
  const reason = result.reason?.startsWith(`${result.image}: `)
    ? result.reason.slice(result.image.length + 2)
    : (result.reason ?? 'failed');
  return `${result.image}: ${reason}${result.code ? ` [${result.code}]` : ''}`;
};

/** The table printed at the end of a run. */
export const formatResultTable = (results: readonly ImageResult[]): string =>
  formatTable([
    ['IMAGE', 'SIZE', 'RESULT', 'SECONDS', 'REASON'],
    ...results.map((result) => [
      result.image,
      result.bytes === undefined ? '-' : formatBytes(result.bytes),
      result.outcome,
      result.seconds.toFixed(2),
      result.reason ?? '',
    ]),
  ]);

/** `3 imported, 1 skipped, 1 failed` — zero counts left out. */
export const formatCounts = (results: readonly ImageResult[]): string => {
  const counts = countOutcomes(results);
  const parts = (Object.entries(counts) as [Outcome, number][])
    .filter(([, count]) => count > 0)
    .map(([outcome, count]) => `${count} ${outcome}`);
  return parts.length > 0 ? parts.join(', ') : 'nothing to do';
};
