import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  checkImporterPlatforms,
  exportImporterRuntime,
  type ImporterManifest,
  resolveImporterMode,
} from '../bundle/index.ts';
import { type DiscoveredImage, type DiscoveryResult, discoverImages } from '../discover/index.ts';
import { describeError, isAirlockError } from '../errors.ts';
import { IMPORTER_VERSION } from '../import/command.ts';
import { createRegistryClient } from '../registry/index.ts';
import { createLogger, type Logger } from '../report/log.ts';
import { createProgress } from '../report/progress.ts';
import { formatCounts, formatResultTable } from '../report/results.ts';
import { exportImages } from './export.ts';
import { EXPORT_USAGE, type ExportCommandOptions, parseExportArguments } from './options.ts';
import { writeOutputs } from './outputs.ts';

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
  if (discovery.notRendered.length > 0 && !options.includeUnrendered) {
    logger.info(
      `not rendered by the chart with these values, not exported (--include-unrendered adds them): ${discovery.notRendered
        .map((image) => image.reference)
        .join(', ')}`,
    );
  }
  logger.info(
    `${discovery.images.length} image(s) to export from ${options.chart}${discovery.rendered ? ` (rendered with helm ${discovery.helmVersion ?? ''})`.replace(' )', ')') : ' (values scan)'}`,
  );
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

  if (options.list) {
    io.stdout.write(
      options.json
        ? `${JSON.stringify({ images: discovery.images.map(describeImage), notRendered: discovery.notRendered.map(describeImage), warnings: discovery.warnings }, null, 2)}\n`
        : discovery.images.map((image) => `${image.reference}\n`).join(''),
    );
    return ExitCode.ok;
  }

  const importerMode = resolveImporterMode(options.importer, discovery.manifests);
  if (importerMode !== 'none') {
    try {
      checkImporterPlatforms(options.platforms);
    } catch (error) {
      logger.error(describeError(error));
      return ExitCode.badInput;
    }
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
    await mkdir(options.output, { recursive: true });
    let importer: ImporterManifest | undefined;
    if (importerMode === 'bundle' && !options.dryRun) {
      importer = (
        await exportImporterRuntime({
          output: options.output,
          platforms: options.platforms,
          version: IMPORTER_VERSION,
        })
      ).manifest;
      logger.info(
        `importer runtime for ${Object.keys(importer.platforms).join(', ')} in ${options.output}/importer/`,
      );
    }
    const report = await exportImages({
      images: discovery.images.map((image) => image.reference),
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
    if (importer && report.manifest) await writeOutputs(options.output, { ...report.manifest, importer });
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
    return failed.length > 0 ? ExitCode.failed : ExitCode.ok;
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
