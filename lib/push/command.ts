import { CHECKSUMS_FILE, readChecksums } from '../archive/checksums.ts';
import { AirlockError, describeError, ExitCode } from '../errors.ts';
import { type CommandIo, interruption } from '../export/command.ts';
import { listArchives } from '../import/archives.ts';
import { createRegistryUploader } from '../registry/index.ts';
import { formatTable } from '../report/format.ts';
import { createLogger, type Logger } from '../report/log.ts';
import { createProgress } from '../report/progress.ts';
import { formatCounts, formatFailureLine, formatResultTable, type ImageResult } from '../report/results.ts';
import { formatJsonDocument } from '../report/summary.ts';
import { BlobLedger } from './blobs.ts';
import { imageRegistryValue } from './names.ts';
import { PUSH_USAGE, type PushCommandOptions, parsePushArguments } from './options.ts';
import { type PushReport, pushArchives } from './push.ts';

/** The archives to push and their checksums; SHA256SUMS is required unless the operator says otherwise. */
const prepare = async (options: PushCommandOptions, logger: Logger) => {
  const { archives, ignored } = await listArchives(options.dir);
  for (const name of ignored) logger.info(`ignored   ${name}  (not .tar, .tar.gz or .tgz)`);
  const checksums = await readChecksums(options.dir);
  if (!checksums && !options.allowUnverified) {
    throw new AirlockError(
      'BAD_INPUT',
      `${options.dir}/${CHECKSUMS_FILE} is missing — the archives cannot be checked before the push; copy it with them, or pass --allow-unverified`,
    );
  }
  if (!checksums)
    logger.warn(
      `no ${CHECKSUMS_FILE} in ${options.dir}: pushing archives without checking them (--allow-unverified)`,
    );
  const missing = checksums
    ? [...checksums.keys()].filter((name) => !archives.includes(name) && !name.includes('/'))
    : [];
  return { archives, checksums, missing };
};

const printSummary = (report: PushReport, options: PushCommandOptions, io: CommandIo, logger: Logger) => {
  io.stderr.write(`\n${formatResultTable(report.results)}\n\n`);
  if (report.names.length > 0) {
    io.stderr.write(
      `${formatTable([['SOURCE', 'PUSHED AS'], ...report.names.map((name) => [name.source, name.target])])}\n\n`,
    );
  }
  logger.info(
    `${formatCounts(report.results)}; ${report.uploadedBlobs} blob(s) uploaded to ${options.target.host}`,
  );
  const value = imageRegistryValue(options.target);
  logger.info(
    `install the chart from this registry with: helm install ... --set global.imageRegistry=${value}`,
  );
  for (const result of report.results.filter((candidate) => candidate.outcome === 'failed'))
    logger.error(formatFailureLine(result));
};

const createUploader = (options: PushCommandOptions, logger: Logger) =>
  createRegistryUploader({
    registry: options.target.host,
    insecure: options.insecure,
    trustedTokenRealms: options.trustedTokenRealms,
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.chunkBytes ? { chunkBytes: options.chunkBytes } : {}),
    retries: options.retries,
    stallTimeoutMs: options.stallTimeoutMs,
    logger,
  });

type Prepared = Awaited<ReturnType<typeof prepare>>;

/** Options and archives, or the exit code when the run ends before any push (help, bad input). */
const start = async (
  argv: readonly string[],
  io: CommandIo,
): Promise<number | { options: PushCommandOptions; prepared: Prepared; logger: Logger }> => {
  let options: PushCommandOptions;
  try {
    options = await parsePushArguments(argv, io.cwd);
  } catch (error) {
    createLogger({ stream: io.stderr }).error(describeError(error));
    return ExitCode.badInput;
  }
  if (options.help) {
    io.stdout.write(PUSH_USAGE);
    return ExitCode.ok;
  }
  const logger = createLogger({ stream: io.stderr, verbose: options.verbose });
  try {
    return { options, prepared: await prepare(options, logger), logger };
  } catch (error) {
    logger.error(describeError(error));
    return ExitCode.badInput;
  }
};

const missingResults = (prepared: Prepared, options: PushCommandOptions): ImageResult[] =>
  prepared.missing.map((name) => ({
    image: name,
    outcome: 'failed',
    seconds: 0,
    code: 'NOT_FOUND',
    reason: `listed in SHA256SUMS but missing from ${options.dir} — copy it again`,
  }));

export const runPushCommand = async (argv: readonly string[], io: CommandIo): Promise<number> => {
  const started = await start(argv, io);
  if (typeof started === 'number') return started;
  const { options, prepared, logger } = started;
  const { signal, release } = interruption(io, logger, '; a re-run skips every blob already pushed');
  const progress = createProgress({ stream: io.stderr });
  const uploader = createUploader(options, logger);
  try {
    logger.info(
      `pushing ${prepared.archives.length} archive(s) from ${options.dir} to ${imageRegistryValue(options.target)}`,
    );
    const report = await pushArchives({
      dir: options.dir,
      archives: prepared.archives,
      checksums: prepared.checksums,
      allowUnverified: options.allowUnverified,
      uploader,
      target: options.target,
      mappings: options.mappings,
      ledger: new BlobLedger(),
      concurrency: options.concurrency,
      logger,
      progress,
      signal,
    });
    report.results.push(...missingResults(prepared, options));
    progress.stop();
    printSummary(report, options, io, logger);
    if (options.json) {
      io.stdout.write(
        formatJsonDocument({
          registry: options.target.host,
          imageRegistry: imageRegistryValue(options.target),
          results: report.results,
          names: report.names,
          uploadedBlobs: report.uploadedBlobs,
        }),
      );
    }
    if (signal.aborted) return ExitCode.interrupted;
    return report.results.some((result) => result.outcome === 'failed') ? ExitCode.failed : ExitCode.ok;
  } catch (error) {
    progress.stop();
    logger.error(describeError(error));
    return signal.aborted ? ExitCode.interrupted : ExitCode.failed;
  } finally {
    await uploader.close();
    release();
  }
};
