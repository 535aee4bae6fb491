import { CHECKSUMS_FILE, readChecksums } from '../archive/checksums.ts';
import { AirlockError, describeError, ExitCode } from '../errors.ts';
import type { CommandIo } from '../export/command.ts';
import { listArchives } from '../import/archives.ts';
import { createRegistryUploader } from '../registry/index.ts';
import { formatTable } from '../report/format.ts';
import { createLogger, type Logger } from '../report/log.ts';
import { createProgress } from '../report/progress.ts';
import { formatCounts, formatResultTable } from '../report/results.ts';
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
  for (const result of report.results.filter((candidate) => candidate.outcome === 'failed')) {
    const reason = result.reason?.startsWith(`${result.image}: `)
      ? result.reason.slice(result.image.length + 2)
      : result.reason;
    logger.error(`${result.image}: ${reason}${result.code ? ` [${result.code}]` : ''}`);
  }
};

export const runPushCommand = async (argv: readonly string[], io: CommandIo): Promise<number> => {
  let options: PushCommandOptions;
  const bootstrapLogger = createLogger({ stream: io.stderr });
  try {
    options = await parsePushArguments(argv, io.cwd);
  } catch (error) {
    bootstrapLogger.error(describeError(error));
    return ExitCode.badInput;
  }
  if (options.help) {
    io.stdout.write(PUSH_USAGE);
    return ExitCode.ok;
  }
  const logger = createLogger({ stream: io.stderr, verbose: options.verbose });
  let prepared: Awaited<ReturnType<typeof prepare>>;
  try {
    prepared = await prepare(options, logger);
  } catch (error) {
    logger.error(describeError(error));
    return ExitCode.badInput;
  }

  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    logger.warn(`${signal} received: stopping; a re-run skips every blob already pushed`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  io.signal?.addEventListener('abort', () => controller.abort(io.signal?.reason), { once: true });
  const progress = createProgress({ stream: io.stderr });
  const uploader = createRegistryUploader({
    registry: options.target.host,
    insecure: options.insecure,
    trustedTokenRealms: options.trustedTokenRealms,
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.chunkBytes ? { chunkBytes: options.chunkBytes } : {}),
    retries: options.retries,
    stallTimeoutMs: options.stallTimeoutMs,
    logger,
  });
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
      signal: controller.signal,
    });
    for (const name of prepared.missing) {
      report.results.push({
        image: name,
        outcome: 'failed',
        seconds: 0,
        code: 'NOT_FOUND',
        reason: `listed in SHA256SUMS but missing from ${options.dir} — copy it again`,
      });
    }
    progress.stop();
    printSummary(report, options, io, logger);
    if (options.json) {
      io.stdout.write(
        `${JSON.stringify({ registry: options.target.host, imageRegistry: imageRegistryValue(options.target), results: report.results, names: report.names, uploadedBlobs: report.uploadedBlobs }, null, 2)}\n`,
      );
    }
    if (controller.signal.aborted) return ExitCode.interrupted;
    return report.results.some((result) => result.outcome === 'failed') ? ExitCode.failed : ExitCode.ok;
  } catch (error) {
    progress.stop();
    logger.error(describeError(error));
    return controller.signal.aborted ? ExitCode.interrupted : ExitCode.failed;
  } finally {
    await uploader.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
};
