// The export run after discovery: the lock, the archives, the importer beside them, and the report.
import {
  checkImporterPlatforms,
  exportImporterImage,
  exportImporterRuntime,
  resolveImporterMode,
} from '../bundle/index.ts';
import type { DiscoveryResult } from '../discover/index.ts';
import { describeError, isAirlockError } from '../errors.ts';
import { IMPORTER_VERSION } from '../import/options.ts';
import { createRegistryClient } from '../registry/index.ts';
import type { Logger } from '../report/log.ts';
import { createProgress } from '../report/progress.ts';
import { formatCounts, formatFailureLine, formatResultTable } from '../report/results.ts';
import { formatJsonDocument, summarizeResults } from '../report/summary.ts';
import { type CommandIo, ExitCode, interruption } from './command.ts';
import { discoveryJson } from './command-discovery.ts';
import { type ExportExtras, type ExportReport, exportImages } from './export.ts';
import { finishLock, startLock } from './lock.ts';
import type { ExportCommandOptions } from './options.ts';

interface Prepared {
  options: ExportCommandOptions;
  logger: Logger;
  discovery: DiscoveryResult;
}

type ImporterChoice = ReturnType<typeof resolveImporterMode>;

/** The importer's runtime (bundle) or image archive, written beside the archives under the export's lock. */
const importerExtras = (mode: ImporterChoice, options: ExportCommandOptions, logger: Logger) => async () => {
  const extras: ExportExtras = {};
  const target = { output: options.output, platforms: options.platforms, version: IMPORTER_VERSION };
  if (mode === 'image') {
    const image = await exportImporterImage({ ...target, compression: options.compression });
    logger.info(`importer image ${image.reference} (${image.digest}) in ${options.output}/${image.file}`);
    extras.images = [image];
  }
  if (mode === 'bundle') {
    extras.importer = (await exportImporterRuntime(target)).manifest;
    logger.info(
      `importer runtime for ${Object.keys(extras.importer.platforms).join(', ')} in ${options.output}/importer/`,
    );
  }
  return extras;
};

const reportRun = (report: ExportReport, { options, logger, discovery }: Prepared, io: CommandIo) => {
  if (!options.dryRun) {
    io.stderr.write(`\n${formatResultTable(report.results)}\n\n`);
    logger.info(
      `${formatCounts(report.results)}; archives, SHA256SUMS and images.json in ${options.output}/`,
    );
  }
  // One line per failed image, with the stable code operators grep for.
  for (const result of report.results)
    if (result.outcome === 'failed') logger.error(formatFailureLine(result));
  if (!options.json) return;
  io.stdout.write(
    formatJsonDocument({
      ...discoveryJson(discovery),
      results: summarizeResults(report.results),
      archives: report.manifest?.images ?? [],
      unlisted: report.unlisted ?? [],
    }),
  );
};

/** Exports the discovered images; the exit code of the run. */
export const runExport = async (prepared: Prepared, io: CommandIo): Promise<number> => {
  const { options, logger, discovery } = prepared;
  const importerMode = resolveImporterMode(options.importer, discovery.manifests);
  try {
    if (importerMode !== 'none') checkImporterPlatforms(options.platforms);
  } catch (error) {
    logger.error(describeError(error));
    return ExitCode.badInput;
  }
  const config = options.config;
  const { signal, release } = interruption(io, logger, ', removing partial files (a re-run resumes)');
  const progress = createProgress({ stream: io.stderr });
  const client = createRegistryClient({
    insecureRegistries: config?.insecureRegistries ?? [],
    mirrors: config?.mirrors ?? {},
    trustedTokenRealms: config?.trustedTokenRealms ?? [],
    stallTimeoutMs: options.stallTimeoutMs,
    retries: options.retries,
    logger,
  });
  try {
    const references = discovery.images.map((image) => image.reference);
    const lock = await startLock(options, references, client, logger);
    if (lock.stop) return lock.stop === 'bad input' ? ExitCode.badInput : ExitCode.failed;
    const report = await exportImages({
      images: references,
      output: options.output,
      platforms: options.platforms,
      compression: options.compression,
      gzipLevel: options.gzipLevel,
      concurrency: options.concurrency,
      client,
      logger,
      progress,
      signal,
      dryRun: options.dryRun,
      prune: options.prune,
      ...(importerMode === 'none' ? {} : { extras: importerExtras(importerMode, options, logger) }),
      sources: new Map(discovery.images.map((image) => [image.reference, image.sources])),
      ...(discovery.chart.version
        ? { chart: { name: discovery.chart.name, version: discovery.chart.version } }
        : {}),
    });
    progress.stop();
    reportRun(report, prepared, io);
    if (signal.aborted) return ExitCode.interrupted;
    const failed = report.results.filter((result) => result.outcome === 'failed').length;
    const lockErrors = await finishLock(lock, options, { ...report, failed }, logger);
    return failed > 0 || lockErrors > 0 ? ExitCode.failed : ExitCode.ok;
  } catch (error) {
    progress.stop();
    logger.error(describeError(error));
    if (signal.aborted) return ExitCode.interrupted;
    return isAirlockError(error) && error.code === 'OUTPUT_LOCKED' ? ExitCode.badInput : ExitCode.failed;
  } finally {
    await client.close();
    release();
  }
};
