import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { AirlockError } from '../lib/errors.ts';

export interface DaemonOptions {
  /** Shown in errors: 'containerd', 'registry', ... */
  name: string;
  command: string;
  args: readonly string[];
  /** stdout and stderr of the daemon go here, appended. */
  logFile: string;
  env?: Record<string, string>;
  /** Resolves true once the daemon serves; thrown errors count as "not yet". */
  ready: () => Promise<boolean>;
  /** Milliseconds to wait for `ready`. Default 60 s. */
  readyTimeout?: number;
  /** Milliseconds between SIGTERM and SIGKILL on stop. Default 10 s. */
  stopGrace?: number;
}

export interface Daemon {
  pid: number;
  logFile: string;
  /** SIGTERM to the daemon's process group, SIGKILL after the grace period. Safe to call twice. */
  stop(): Promise<void>;
}

const POLL_INTERVAL = 100;

/** Daemons still running, killed hard when the process exits without a teardown (a crash, process.exit). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) signalGroup(child, 'SIGKILL');
});

const signalGroup = (child: ChildProcess, signal: NodeJS.Signals): void => {
  if (child.pid === undefined) return;
  try {
    // Negative pid: the whole group, so helpers the daemon forked go down with it.
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  }
};

export const lastLogLines = async (logFile: string, count = 20): Promise<string> => {
  try {
    const text = await readFile(logFile, 'utf8');
    return text.trimEnd().split('\n').slice(-count).join('\n');
  } catch {
    return '(no log)';
  }
};

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));

const stopChild = async (child: ChildProcess, grace: number): Promise<void> => {
  const done = exited(child);
  signalGroup(child, 'SIGTERM');
  const timer = new AbortController();
  const inTime = await Promise.race([
    done.then(() => true),
    sleep(grace, false, { signal: timer.signal }).catch(() => false),
  ]);
  timer.abort();
  // The leader may be gone while children it forked into its group still run.
  signalGroup(child, 'SIGKILL');
  if (!inTime) await done;
  running.delete(child);
};

/**
 * Starts a long-running program in its own process group, logging to a file, and waits until `ready` says it
 * serves. A daemon that exits or never gets ready is killed and reported with the end of its log.
 */
export const startDaemon = async (options: DaemonOptions): Promise<Daemon> => {
  const { name, command, args, logFile } = options;
  const log = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      stdio: ['ignore', log, log],
      detached: true,
      env: { ...process.env, ...options.env },
    });
  } finally {
    closeSync(log);
  }
  running.add(child);
  // Keeps vitest's or a script's event loop from waiting on the daemon.
  child.unref();

  let exitReason: string | undefined;
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
    exitReason = `could not be started (${error.message})`;
  });
  child.once('exit', (code, signal) => {
    running.delete(child);
    exitReason ??= `exited with ${signal ?? `code ${code}`}`;
  });
  const grace = options.stopGrace ?? 10_000;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= stopChild(child, grace);
    return stopping;
  };

  const deadline = Date.now() + (options.readyTimeout ?? 60_000);
  let lastProbeError: unknown;
  for (;;) {
    if (exitReason !== undefined) break;
    try {
      if (await options.ready()) return { pid: child.pid!, logFile, stop };
    } catch (error) {
      lastProbeError = error;
    }
    if (Date.now() > deadline) break;
    await sleep(POLL_INTERVAL);
  }

  const why = exitReason ?? `did not get ready within ${options.readyTimeout ?? 60_000} ms`;
  const code = spawnError ? 'TOOL_MISSING' : exitReason ? 'COMMAND_FAILED' : 'TIMEOUT';
  await stop();
  const probe = lastProbeError instanceof Error ? `\nlast probe: ${lastProbeError.message}` : '';
  throw new AirlockError(
    code,
    `${name} (${[command, ...args].join(' ')}) ${why}; log ${logFile} ends with:\n${await lastLogLines(logFile)}${probe}`,
    { cause: spawnError ?? lastProbeError },
  );
};
