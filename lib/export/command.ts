import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  type DiscoveredImage,
  type DiscoveryResult,
  discoverImages,
  explainImage,
  notRenderedLines,
} from '../discover/index.ts';
import { describeError, isAirlockError } from '../errors.ts';
import { createRegistryClient } from '../registry/index.ts';
import { createLogger, type Logger } from '../report/log.ts';
import { createProgress } from '../report/progress.ts';
import { formatCounts, formatResultTable } from '../report/results.ts';
import { exportImages } from './export.ts';
import { finishLock, startLock } from './lock.ts';
import { EXPORT_USAGE, type ExportCommandOptions, parseExportArguments } from './options.ts';

export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  cwd?: string;
  signal?: AbortSignal;
}

/** Exit codes: 0 every image saved; 1 some image failed; 2 bad input before any image was tried; 130 interrupted. */
export const ExitCode = { ok: 0, failed: 1, badInput: 2, interrupted: 130 } as const;

const describeImage = (image: DiscoveredImage) => ({
  reference: image.reference,
  written: image.written,
  sources: image.sources,
  pullPolicies: image.pullPolicies,
});

const readChart = async (chart: string) => {
  try {
    const document = parseYaml(await readFile(path.join(chart, 'Chart.yaml'), 'utf8')) as {
      name?: string;
      version?: string;
    };
    return document.name && document.version
      ? { name: document.name, version: String(document.version) }
      : undefined;
  } catch {
    return undefined;
  }
};

const reportDiscovery = (discovery: DiscoveryResult, options: ExportCommandOptions, logger: Logger) => {
  for (const warning of discovery.warnings) logger.warn(warning);
  if (!options.includeUnrendered)
    for (const line of notRenderedLines(discovery.notRendered)) logger.info(line);
  logger.info(
    `${discovery.images.length} image(s) to export from ${options.chart}${discovery.rendered ? ` (rendered with helm ${discovery.helmVersion ?? ''})`.replace(' )', ')') : ' (values scan)'}`,
  );
};

/** `--why REF`: every place REF was found, on stdout; 1 when the chart does not use it. */
const printWhy = (discovery: DiscoveryResult, query: string, io: CommandIo, logger: Logger): number => {
  try {
    const lines = explainImage(discovery, query);
    if (!lines) {
      logger.error(`${query}: not found in the chart with these values (rendered, values or Chart.yaml)`);
      return ExitCode.failed;
    }
    io.stdout.write(`${lines.join('\n')}\n`);
    return ExitCode.ok;
  } catch (error) {
    logger.error(describeError(error));
    return ExitCode.badInput;
  }
};

export const runExportCommand = async (argv: readonly string[], io: CommandIo): Promise<number> => {
  let options: ExportCommandOptions;
  const bootstrapLogger = createLogger({ stream: io.stderr });
  try {
    options = await parseExportArguments(argv, io.cwd);
  } catch (error) {
    bootstrapLogger.error(describeError(error));
    return ExitCode.badInput;
  }
  if (options.help) {
    io.stdout.write(EXPORT_USAGE);
    return ExitCode.ok;
  }

  const logger = createLogger({ stream: io.stderr, verbose: options.verbose });
  const config = options.config;
  let discovery: DiscoveryResult;
  try {
    discovery = await discoverImages({
      chart: options.chart,
      valuesFiles: options.valuesFiles,
      set: options.set,
      ...(options.helm ? { helm: options.helm } : {}),
      additionalImages: config?.additionalImages ?? [],
      exclude: config?.exclude ?? [],
      includeUnrendered: options.includeUnrendered,
      logger,
    });
  } catch (error) {
    logger.error(describeError(error));
    return isAirlockError(error) ? ExitCode.badInput : ExitCode.failed;
  }
  reportDiscovery(discovery, options, logger);

  if (options.why) return printWhy(discovery, options.why, io, logger);
  if (options.list) {
    io.stdout.write(
      options.json
        ? `${JSON.stringify({ images: discovery.images.map(describeImage), notRendered: discovery.notRendered.map(describeImage), warnings: discovery.warnings }, null, 2)}\n`
        : discovery.images.map((image) => `${image.reference}\n`).join(''),
    );
    return ExitCode.ok;
  }

  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    logger.warn(`${signal} received: stopping, removing partial files (a re-run resumes)`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  io.signal?.addEventListener('abort', () => controller.abort(io.signal?.reason), { once: true });

  const progress = createProgress({ stream: io.stderr });
  const client = createRegistryClient({
    insecureRegistries: config?.insecureRegistries ?? [],
    mirrors: config?.mirrors ?? {},
    stallTimeoutMs: options.stallTimeoutMs,
    retries: options.retries,
    logger,
  });
  try {
    const references = discovery.images.map((image) => image.reference);
    const lock = await startLock(options, references, client, logger);
    if (lock.stop) return lock.stop === 'bad input' ? ExitCode.badInput : ExitCode.failed;
    await mkdir(options.output, { recursive: true });
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
      signal: controller.signal,
      dryRun: options.dryRun,
      sources: new Map(discovery.images.map((image) => [image.reference, image.sources])),
      ...(await readChart(options.chart).then((chart) => (chart ? { chart } : {}))),
    });
    progress.stop();
    const failed = report.results.filter((result) => result.outcome === 'failed');
    if (!options.dryRun) {
      io.stderr.write(`\n${formatResultTable(report.results)}\n\n`);
      logger.info(
        `${formatCounts(report.results)}; archives, SHA256SUMS and images.json in ${options.output}/`,
      );
    }
    // One line per failed image, with the stable code operators grep for.
    for (const result of failed) {
      const reason = result.reason?.startsWith(`${result.image}: `)
        ? result.reason.slice(result.image.length + 2)
        : result.reason;
      logger.error(`${result.image}: ${reason}${result.code ? ` [${result.code}]` : ''}`);
    }
    if (options.json) {
      io.stdout.write(
        `${JSON.stringify({ images: discovery.images.map(describeImage), notRendered: discovery.notRendered.map(describeImage), warnings: discovery.warnings, results: report.results, archives: report.manifest?.images ?? [] }, null, 2)}\n`,
      );
    }
    if (controller.signal.aborted) return ExitCode.interrupted;
    const lockErrors = await finishLock(lock, options, { ...report, failed: failed.length }, logger);
    return failed.length > 0 || lockErrors > 0 ? ExitCode.failed : ExitCode.ok;
  } catch (error) {
    progress.stop();
    logger.error(describeError(error));
    return controller.signal.aborted ? ExitCode.interrupted : ExitCode.failed;
  } finally {
    await client.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
};
