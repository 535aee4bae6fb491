// The exporter's command line. Start-up is part of every run (`--help` and `--list` are little else), so this
// module loads only the flag parser: discovery (yaml, helm) and the export itself (registry client, archive
// writer, importer runtime) are imported when a run gets that far.
import { describeError, ExitCode } from '../errors.ts';
import { createLogger, type Logger } from '../report/log.ts';
import {
  discoverOptionsOf,
  EXPORT_USAGE,
  type ExportCommandOptions,
  parseExportArguments,
} from './options.ts';

export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  cwd?: string;
  signal?: AbortSignal;
}

export { ExitCode };

/**
 * An AbortController that Ctrl-C, SIGTERM and the caller's signal all abort the same way, after one warning that
 * says what a re-run does (`consequence`); `release` removes the handlers.
 */
export const interruption = (io: CommandIo, logger: Logger, consequence: string) => {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    logger.warn(`${signal} received: stopping${consequence}`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  io.signal?.addEventListener('abort', () => controller.abort(io.signal?.reason), { once: true });
  const release = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  return { signal: controller.signal, release };
};

export const runExportCommand = async (argv: readonly string[], io: CommandIo): Promise<number> => {
  let options: ExportCommandOptions;
  try {
    options = await parseExportArguments(argv, io.cwd);
  } catch (error) {
    createLogger({ stream: io.stderr }).error(describeError(error));
    return ExitCode.badInput;
  }
  if (options.help) {
    io.stdout.write(EXPORT_USAGE);
    return ExitCode.ok;
  }
  const logger = createLogger({ stream: io.stderr, verbose: options.verbose });
  // helm renders the chart while node loads discovery (yaml, the chart readers): a fifth of `--list`.
  const { startRendering } = await import('../discover/helm-template.ts');
  const discover = discoverOptionsOf(options, logger);
  const rendering = startRendering(discover);
  const { discoverForCommand } = await import('./command-discovery.ts');
  // An export also loads its own modules (registry client, archive writer) while discovery waits for helm.
  const exporting = options.list || options.why ? undefined : import('./command-run.ts');
  exporting?.catch(() => undefined);
  const discovery = await discoverForCommand(options, io, logger, {
    ...discover,
    ...(rendering ? { rendering } : {}),
  });
  if (typeof discovery === 'number') return discovery;
  const { runExport } = await (exporting ?? import('./command-run.ts'));
  return runExport({ options, logger, discovery }, io);
};
