// Discovery as the command reports it: warnings, the count, and the answers of `--list` and `--why`.
import {
  type DiscoveredImage,
  type DiscoverOptions,
  type DiscoveryResult,
  discoverImages,
  explainImage,
  notRenderedLines,
} from '../discover/index.ts';
import { describeError, isAirlockError } from '../errors.ts';
import type { Logger } from '../report/log.ts';
import { formatJsonDocument } from '../report/summary.ts';
import { type CommandIo, ExitCode } from './command.ts';
import { discoverOptionsOf, type ExportCommandOptions } from './options.ts';

const describeImage = (image: DiscoveredImage) => ({
  reference: image.reference,
  written: image.written,
  sources: image.sources,
  pullPolicies: image.pullPolicies,
});

export const discoveryJson = (discovery: DiscoveryResult) => ({
  images: discovery.images.map(describeImage),
  notRendered: discovery.notRendered.map(describeImage),
  warnings: discovery.warnings,
});

const reportDiscovery = (discovery: DiscoveryResult, options: ExportCommandOptions, logger: Logger) => {
  for (const warning of discovery.warnings) logger.warn(warning);
  if (!options.includeUnrendered)
    for (const line of notRenderedLines(discovery.notRendered)) logger.info(line);
  const how = discovery.rendered
    ? ` (rendered with helm${discovery.helmVersion ? ` ${discovery.helmVersion}` : ''})`
    : ' (values scan)';
  logger.info(`${discovery.images.length} image(s) to export from ${options.chart}${how}`);
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

/** The chart's images; a number is the exit code of a run that ends here (bad input, `--list`, `--why`). */
export const discoverForCommand = async (
  options: ExportCommandOptions,
  io: CommandIo,
  logger: Logger,
  discover: DiscoverOptions = discoverOptionsOf(options, logger),
): Promise<number | DiscoveryResult> => {
  let discovery: DiscoveryResult;
  try {
    discovery = await discoverImages(discover);
  } catch (error) {
    logger.error(describeError(error));
    return isAirlockError(error) ? ExitCode.badInput : ExitCode.failed;
  }
  reportDiscovery(discovery, options, logger);
  if (options.why) return printWhy(discovery, options.why, io, logger);
  if (!options.list) return discovery;
  io.stdout.write(
    options.json
      ? formatJsonDocument(discoveryJson(discovery))
      : discovery.images.map((image) => `${image.reference}\n`).join(''),
  );
  return ExitCode.ok;
};
