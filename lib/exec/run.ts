import { execa, type Options, type ResultPromise } from 'execa';
import { AirlockError } from '../errors.ts';
import { launchOf } from './launcher.ts';

/**
 * The one seam through which airlock runs other programs (helm, ctr, docker, skopeo, ...).
 * Every failure becomes a CommandError that names the command, its exit code and the end of its stderr.
 */
export class CommandError extends AirlockError {
  readonly command: string;
  readonly exitCode: number | undefined;
  readonly stderr: string;

  constructor(
    command: string,
    exitCode: number | undefined,
    stderr: string,
    reason: string,
    options?: ErrorOptions & { missing?: boolean; subject?: string },
  ) {
    // The subject is the command line, or the program alone when it is not there to run.
    super(options?.missing ? 'TOOL_MISSING' : 'COMMAND_FAILED', reason, {
      ...options,
      subject: options?.subject ?? command,
    });
    this.name = 'CommandError';
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

export interface RunOptions {
  /** Standard input: a string, a Buffer, or a readable stream piped in. */
  input?: string | Buffer | NodeJS.ReadableStream;
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Milliseconds before the command is killed. */
  timeout?: number;
  signal?: AbortSignal;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

const lastLines = (text: string, count = 5): string =>
  text.trim().split('\n').slice(-count).join('\n').trim();

const toExecaOptions = (options: RunOptions): Options => ({
  cwd: options.cwd,
  env: options.env,
  extendEnv: true,
  timeout: options.timeout,
  cancelSignal: options.signal,
  stripFinalNewline: true,
  ...(typeof options.input === 'string' || Buffer.isBuffer(options.input)
    ? { input: options.input }
    : options.input
      ? { stdin: options.input as unknown as Options['stdin'] }
      : { stdin: 'ignore' }),
});

/** Runs a command to completion and returns its output, or throws a CommandError. */
export const run = async (
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> => {
  const command = [file, ...args].join(' ');
  const launch = launchOf(file, args);
  try {
    const result = await execa(launch.file, launch.args, { ...toExecaOptions(options), all: false });
    return { stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
  } catch (error) {
    throw toCommandError(command, error);
  }
};

/** Starts a command and hands back execa's subprocess, for callers that stream into stdin or out of stdout. */
export const spawn = (
  file: string,
  args: readonly string[],
  options: RunOptions & {
    stdin?: 'pipe' /** Read stdout as a stream only, never kept in memory. */;
    streamStdout?: boolean;
  } = {},
): ResultPromise => {
  const launch = launchOf(file, args);
  return execa(launch.file, launch.args, {
    ...toExecaOptions(options),
    ...(options.stdin ? { stdin: options.stdin } : {}),
    ...(options.streamStdout ? { buffer: { stdout: false } } : {}),
  });
};

export const toCommandError = (command: string, error: unknown): CommandError => {
  if (error instanceof CommandError) return error;
  const failure = error as {
    exitCode?: number;
    stderr?: unknown;
    timedOut?: boolean;
    isCanceled?: boolean;
    code?: string;
    shortMessage?: string;
    message?: string;
  };
  const stderr = typeof failure.stderr === 'string' ? failure.stderr : '';
  const detail = lastLines(stderr) || failure.shortMessage || failure.message || 'failed';
  let reason: string;
  let subject = command;
  if (failure.code === 'ENOENT') {
    subject = command.split(' ')[0] ?? command;
    reason = 'not found on PATH (spawn ENOENT)';
  } else if (failure.timedOut) reason = 'timed out';
  else if (failure.isCanceled) reason = 'canceled';
  else reason = `exit code ${failure.exitCode ?? '?'}: ${detail}`;
  // spawn's own ENOENT: the program is not there (a command that exits non-zero has an exit code instead).
  const missing = failure.code === 'ENOENT' && failure.exitCode === undefined;
  return new CommandError(command, failure.exitCode, stderr, reason, { cause: error, missing, subject });
};
