// Watch mode of the importer (the keeper's main container with imagePull.keeper.watch): one import pass per
// interval over the node's images directory, for archives copied there after the keeper started. A pass over an
// unchanged directory reads its listing and nothing else: no importer started, no runtime call, no log line.
// This module stays free of the import machinery: the watching process loads only what it needs to list.
import { readdir, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AirlockError, describeError } from '../errors.ts';
import { createLogger, type Logger } from '../report/log.ts';
import { type ImageResult, secondsSince } from '../report/results.ts';
import { formatJsonLine, roundSeconds, summarizeResults } from '../report/summary.ts';
import type { ImportIo } from './command.ts';
import { IMPORT_USAGE, IMPORTER_VERSION, readImportOptions } from './options.ts';
import { childImportPass, type ImporterCommand } from './watch-child.ts';

/** Watch mode's own flags and their environment twins (the chart sets the env); flags win. */
export const WATCH_FLAGS = { watch: 'AIRLOCK_WATCH', interval: 'AIRLOCK_INTERVAL' } as const;

export const DEFAULT_INTERVAL_SECONDS = 30;

export const WATCH_USAGE = `
Watch mode (the keeper):
  --watch                      keep running: import archives added to DIR later (env AIRLOCK_WATCH=true)
  --interval SECONDS           seconds between two looks at DIR in watch mode (env AIRLOCK_INTERVAL; default 30)
`;

export interface WatchSettings {
  watch: boolean;
  intervalSeconds: number;
  /** The arguments left for the import command. */
  rest: string[];
}

const TRUE_TEXT = new Set(['true', '1', 'yes']);
const FALSE_TEXT = new Set(['false', '0', 'no', '']);

const parseSwitch = (name: string, text: string): boolean => {
  const lower = text.trim().toLowerCase();
  if (TRUE_TEXT.has(lower)) return true;
  if (FALSE_TEXT.has(lower)) return false;
  throw new AirlockError('BAD_INPUT', `${name}: expected true or false, got ${JSON.stringify(text)}`);
};

const parseInterval = (name: string, text: string): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new AirlockError(
      'BAD_INPUT',
      `${name}: expected a whole number of seconds of at least 1, got ${JSON.stringify(text)}`,
    );
  }
  return value;
};

/** Takes --watch and --interval out of the arguments (the import command refuses flags it does not know). */
export const splitWatchArguments = (argv: readonly string[], env: NodeJS.ProcessEnv): WatchSettings => {
  const rest: string[] = [];
  let watch: boolean | undefined;
  let interval: { name: string; text: string } | undefined;
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index] ?? '';
    if (argument === '--watch') watch = true;
    else if (argument.startsWith('--watch=')) watch = parseSwitch('--watch', argument.slice(8));
    else if (argument.startsWith('--interval=')) interval = { name: '--interval', text: argument.slice(11) };
    else if (argument === '--interval') {
      const text = argv[index + 1];
      if (text === undefined)
        throw new AirlockError('BAD_INPUT', '--interval: a number of seconds is missing');
      interval = { name: '--interval', text };
      index += 1;
    } else rest.push(argument);
  }
  const watchText = env[WATCH_FLAGS.watch];
  watch ??= watchText === undefined ? false : parseSwitch(WATCH_FLAGS.watch, watchText);
  const intervalText = env[WATCH_FLAGS.interval];
  if (!interval && intervalText) interval = { name: WATCH_FLAGS.interval, text: intervalText };
  const intervalSeconds = interval ? parseInterval(interval.name, interval.text) : DEFAULT_INTERVAL_SECONDS;
  return { watch, intervalSeconds, rest };
};

/** An archive's state on this node, in the style of a sync status: what an operator asks of each file. */
export type ArchiveState = 'synced' | 'failed' | 'pending';

interface ArchiveStatus {
  state: ArchiveState;
  result: ImageResult;
}

/** What one import pass found: every archive's result, and the runtime it spoke to. */
export interface PassReport {
  results: ImageResult[];
  runtime?: { kind: string; endpoint: string };
  /** The importer's warning and error lines, already logged. */
  notes?: string[];
}

/** Imports the directory once; rejects when the pass could not run at all (runtime unreachable, bad checksums). */
export type ImportPass = (signal?: AbortSignal) => Promise<PassReport>;

/** What the watcher remembers between passes. */
export interface WatchState {
  pass: number;
  /** Size, mtime and inode of every entry of the directory at the start of the last pass that ran. */
  seen: Map<string, string>;
  statuses: Map<string, ArchiveStatus>;
  /** Something must be looked at again even if the directory did not change (pending archives, an error). */
  retry: boolean;
  lastError?: string;
  /** The runtime of the last pass that reached one. */
  runtime?: { kind: string; endpoint: string };
}

export const createWatchState = (): WatchState => ({
  pass: 0,
  seen: new Map(),
  statuses: new Map(),
  retry: true,
});

interface Fingerprint {
  text: string;
  mtimeMs: number;
}

/** Every top-level entry's size, mtime and inode: a copy in progress, a rename or a new SHA256SUMS changes it. */
const fingerprintDirectory = async (dir: string): Promise<Map<string, Fingerprint>> => {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw new AirlockError(
      'BAD_INPUT',
      `images directory ${dir} cannot be read (${(error as NodeJS.ErrnoException).code}) — copy the exported images/ directory to this path on the node (imagePull.imagesPath)`,
      { cause: error },
    );
  }
  const entries = new Map<string, Fingerprint>();
  for (const name of names) {
    const info = await stat(path.join(dir, name)).catch(() => undefined);
    if (!info) continue;
    entries.set(name, { text: `${info.size}:${info.mtimeMs}:${info.ino}`, mtimeMs: info.mtimeMs });
  }
  return entries;
};

const sameEntries = (seen: ReadonlyMap<string, string>, now: ReadonlyMap<string, Fingerprint>): boolean =>
  seen.size === now.size && [...now].every(([name, entry]) => seen.get(name) === entry.text);

/**
 * A failed archive that changed during the pass, or was written less than an interval ago, is most likely still
 * being copied (its checksum cannot match yet): pending, retried on the next pass. One that sat still is failed,
 * and looked at again only once the directory changes.
 */
const stateOf = (
  result: ImageResult,
  before: Fingerprint | undefined,
  after: Fingerprint | undefined,
  intervalMs: number,
): ArchiveState => {
  if (result.outcome !== 'failed') return 'synced';
  if (!before || !after) return 'failed';
  const changing = before.text !== after.text || Date.now() - after.mtimeMs < intervalMs;
  return changing ? 'pending' : 'failed';
};

/** One status line: `synced   web.tar.gz  imported`, `failed   bad.tar  — reason`. */
export const formatStatusLine = (archive: string, status: ArchiveStatus, intervalSeconds: number): string => {
  const { state, result } = status;
  const detail =
    state === 'synced'
      ? result.outcome === 'imported'
        ? 'imported'
        : 'already present'
      : `— ${result.reason ?? 'failed'}${state === 'pending' ? `; still being copied? retrying in ${intervalSeconds}s` : ''}`;
  return `${state.padEnd(8)} ${archive}  ${detail}`;
};

export interface WatchContext {
  dir: string;
  pass: ImportPass;
  logger: Logger;
  stdout: NodeJS.WritableStream;
  node: string;
  intervalSeconds: number;
  signal?: AbortSignal;
}

const countStates = (statuses: ReadonlyMap<string, ArchiveStatus>): Record<ArchiveState, number> => {
  const counts: Record<ArchiveState, number> = { synced: 0, failed: 0, pending: 0 };
  for (const status of statuses.values()) counts[status.state] += 1;
  return counts;
};

/** The node's status after a pass: one line for people, one JSON line for machines (`grep keeper-summary`). */
const reportPass = (context: WatchContext, state: WatchState, started: number, error?: unknown): void => {
  const counts = countStates(state.statuses);
  const seconds = roundSeconds(secondsSince(started));
  const results = [...state.statuses.values()];
  context.logger.info(
    `pass ${state.pass}: ${counts.synced} synced, ${counts.failed} failed, ${counts.pending} pending in ${seconds}s`,
  );
  context.stdout.write(
    formatJsonLine('keeper-summary', {
      node: context.node,
      pass: state.pass,
      runtime: state.runtime?.kind ?? null,
      endpoint: state.runtime?.endpoint ?? null,
      archives: results.length,
      ...counts,
      seconds,
      ...(error === undefined ? {} : { error: describeError(error) }),
      // The hook's per-archive fields, each with the archive's state in front.
      results: summarizeResults(
        results.map(({ result }) => result),
        'archive',
      ).map((entry, index) => ({ state: results[index]?.state, ...entry })),
    }),
  );
};

/** Folds a pass's results into the statuses; prints a line for each archive whose state or reason changed. */
const updateStatuses = (
  context: WatchContext,
  state: WatchState,
  results: readonly ImageResult[],
  before: ReadonlyMap<string, Fingerprint>,
  after: ReadonlyMap<string, Fingerprint>,
): void => {
  const statuses = new Map<string, ArchiveStatus>();
  const intervalMs = context.intervalSeconds * 1000;
  for (const result of results) {
    const name = result.image;
    const status = { state: stateOf(result, before.get(name), after.get(name), intervalMs), result };
    statuses.set(name, status);
    const previous = state.statuses.get(name);
    const unchanged =
      previous?.state === status.state &&
      (status.state === 'synced' || previous.result.reason === result.reason);
    if (!unchanged) context.logger.info(formatStatusLine(name, status, context.intervalSeconds));
  }
  state.statuses = statuses;
  state.retry = [...statuses.values()].some((status) => status.state === 'pending');
};

/**
 * One pass, when the directory changed since the last one or something is pending; returns whether it ran.
 * Never throws: an unreadable directory, a SHA256SUMS being rewritten or an unreachable runtime is one line,
 * and the next pass tries again.
 */
export const runWatchPass = async (context: WatchContext, state: WatchState): Promise<boolean> => {
  const started = performance.now();
  try {
    const before = await fingerprintDirectory(context.dir);
    if (!state.retry && sameEntries(state.seen, before)) return false;
    state.pass += 1;
    state.seen = new Map([...before].map(([name, entry]) => [name, entry.text]));
    const report = await context.pass(context.signal);
    if (report.runtime) state.runtime = report.runtime;
    updateStatuses(context, state, report.results, before, await fingerprintDirectory(context.dir));
    state.lastError = undefined;
    reportPass(context, state, started);
  } catch (error) {
    if (state.pass === 0) state.pass = 1;
    state.retry = true;
    const message = describeError(error);
    // The same failure on every pass is said once, not once per interval.
    if (message === state.lastError) return true;
    state.lastError = message;
    context.logger.error(`pass ${state.pass}: ${message}; retrying every ${context.intervalSeconds}s`);
    reportPass(context, state, started, error);
  }
  return true;
};

/** Waits one interval; false once the signal stopped the keeper. */
const waitInterval = async (seconds: number, signal?: AbortSignal): Promise<boolean> => {
  try {
    await sleep(seconds * 1000, undefined, signal ? { signal } : {});
    return true;
  } catch {
    return false;
  }
};

/**
 * The keeper's watch loop: a pass at once, then one per interval until SIGTERM. Each pass that has work runs the
 * one-shot importer as a child (`importer`, with the arguments left after --watch/--interval), so this process
 * never holds more than the directory's listing. Exit 2 for bad flags, 0 when stopped; a failed pass never ends it.
 */
export const runWatchCommand = async (
  argv: readonly string[],
  io: ImportIo,
  intervalSeconds: number,
  importer: ImporterCommand,
): Promise<number> => {
  const env = io.env ?? process.env;
  const options = readImportOptions(argv, io, `${IMPORT_USAGE}${WATCH_USAGE}`);
  if (typeof options === 'number') return options;
  const logger = createLogger({ stream: io.stdout, verbose: options.verbose });
  const node = options.nodeName ?? hostname();
  logger.info(
    `airlock keeper ${IMPORTER_VERSION} on node ${node}: watching ${options.dir} every ${intervalSeconds}s`,
  );
  const context: WatchContext = {
    dir: options.dir,
    pass: childImportPass(importer, argv, env, logger),
    logger,
    stdout: io.stdout,
    node,
    intervalSeconds,
    ...(io.signal ? { signal: io.signal } : {}),
  };
  const state = createWatchState();
  do {
    await runWatchPass(context, state);
  } while (await waitInterval(intervalSeconds, io.signal));
  logger.info(`keeper on node ${node} stopping after ${state.pass} pass(es)`);
  return 0;
};
