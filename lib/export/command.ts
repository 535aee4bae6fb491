// The exporter's command line. Start-up is part of every run (`--help` and `--list` are little else), so this
// module loads only the flag parser: discovery (yaml, helm) and the export itself (registry client, archive
// writer, importer runtime) are imported when a run gets that far.
import { describeError, ExitCode } from '../errors.ts';
import { createLogger } from '../report/log.ts';
import { EXPORT_USAGE, type ExportCommandOptions, parseExportArguments } from './options.ts';

export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  cwd?: string;
  signal?: AbortSignal;
}

export { ExitCode };

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
  const { discoverForCommand } = await import('./command-discovery.ts');
  const discovery = await discoverForCommand(options, io, logger);
  if (typeof discovery === 'number') return discovery;
  const { runExport } = await import('./command-run.ts');
  return runExport({ options, logger, discovery }, io);
};
