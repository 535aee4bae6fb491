import { hostname } from 'node:os';
import { describeError } from '../errors.ts';
import { createLogger, type Logger } from '../report/log.ts';
import { countOutcomes, formatCounts, formatResultTable, secondsSince } from '../report/results.ts';
import { formatJsonLine, roundSeconds, summarizeResults } from '../report/summary.ts';
import { detectRuntime } from '../runtime/index.ts';
import { type ArchiveListing, listArchives } from './archives.ts';
import { importArchives } from './import.ts';
import { IMPORTER_VERSION, type ImportOptions, readImportOptions } from './options.ts';

export interface ImportIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /**
   * Settles when the caller's own checks are done (the bundled runtime's self-check, which overlaps detection
   * and listing); a rejection stops the run with its one line, before the header and before any import.
   */
  ready?: Promise<void>;
}

type Runtime = Awaited<ReturnType<typeof detectRuntime>>;

const detectOptions = (options: ImportOptions): Parameters<typeof detectRuntime>[0] => ({
  runtime: options.runtime,
  namespace: options.namespace,
  ...(options.containerdAddress ? { containerdAddress: options.containerdAddress } : {}),
  ...(options.dockerHost ? { dockerHost: options.dockerHost } : {}),
});

const importOptions = (options: ImportOptions, io: ImportIo) => ({
  dir: options.dir,
  ...(options.images ? { images: options.images } : {}),
  allowUnverified: options.allowUnverified,
  concurrency: options.concurrency,
  retries: options.retries,
  timeoutMs: options.timeout * 1000,
  ...(io.signal ? { signal: io.signal } : {}),
});

/**
 * Lists the archives and writes the log header, which says how many this node is about to import. A listing
 * failure comes back as its error, for the run to report; `stop` when the caller's own checks failed.
 */
const listAndAnnounce = async (
  runtime: Runtime,
  options: ImportOptions,
  node: string,
  logger: Logger,
  io: ImportIo,
): Promise<ArchiveListing | Error | 'stop'> => {
  const version = await runtime.version().catch(() => runtime.kind);
  let listing: ArchiveListing | Error;
  try {
    listing = await listArchives(options.dir);
  } catch (error) {
    listing = error instanceof Error ? error : new Error(String(error));
  }
  try {
    await io.ready;
  } catch (error) {
    logger.error(describeError(error));
    return 'stop';
  }
  const count = listing instanceof Error ? 'no archives' : `${listing.archives.length} archive(s)`;
  logger.info(
    `airlock importer ${IMPORTER_VERSION} on node ${node}: ${version} at ${runtime.endpoint}` +
      `${runtime.kind === 'containerd' ? ` (namespace ${options.namespace})` : ''}, ${count} in ${options.dir}`,
  );
  return listing;
};

/**
 * Everything goes to stdout, which is what `kubectl logs` shows: a header, one line per archive as it finishes,
 * a table, and one JSON line for machines. Exit 1 only for bad flags, or in --strict mode when an image failed.
 */
export const runImportCommand = async (argv: readonly string[], io: ImportIo): Promise<number> => {
  const options = readImportOptions(argv, io);
  if (typeof options === 'number') return options;
  const logger = createLogger({ stream: io.stdout, verbose: options.verbose });
  const node = options.nodeName ?? hostname();
  const started = performance.now();
  const summary = (fields: Record<string, unknown>) =>
    io.stdout.write(formatJsonLine('import-summary', { node, ...fields }));

  let runtime: Runtime;
  try {
    runtime = await detectRuntime(detectOptions(options));
  } catch (error) {
    logger.error(describeError(error));
    summary({ runtime: null, error: describeError(error), imported: 0, skipped: 0, failed: 0 });
    return options.strict ? 1 : 0;
  }

  const listing = await listAndAnnounce(runtime, options, node, logger, io);
  if (listing === 'stop') return 1;
  try {
    if (listing instanceof Error) throw listing;
    const report = await importArchives({
      ...importOptions(options, io),
      listing,
      runtime,
      logger,
    });
    logger.info(
      `${report.archives.length} archive(s), ${report.verified ? 'checked against SHA256SUMS' : 'UNVERIFIED: no SHA256SUMS'}`,
    );
    if (report.results.length > 0) io.stdout.write(`\n${formatResultTable(report.results)}\n\n`);
    const counts = countOutcomes(report.results);
    const seconds = roundSeconds(secondsSince(started));
    logger.info(`${formatCounts(report.results)} in ${seconds}s`);
    summary({
      runtime: runtime.kind,
      endpoint: runtime.endpoint,
      archives: report.archives.length,
      imported: counts.imported,
      skipped: counts.skipped,
      failed: counts.failed,
      seconds,
      results: summarizeResults(report.results, 'archive'),
    });
    if (counts.failed > 0 && options.strict) return 1;
    return 0;
  } catch (error) {
    logger.error(describeError(error));
    summary({ runtime: runtime.kind, error: describeError(error), imported: 0, skipped: 0, failed: 0 });
    return options.strict ? 1 : 0;
  }
};
