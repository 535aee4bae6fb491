// A watch pass run as a child importer: the keeper's long-lived process only lists the directory between
// passes, and each pass that has work starts the one-shot importer (with its own self-check), reads its
// import-summary line and exits. The keeper then idles at the size of a bare Node.js, not at the size of an
// importer that has loaded and run every module once (issue #10's budget: under 60 MB idle in watch mode).
// Deliberately light: node:child_process rather than execa, and no zod, for the same budget.
import { spawn } from 'node:child_process';
import { AirlockError } from '../errors.ts';
import { launchOf } from '../exec/launcher.ts';
import type { Logger } from '../report/log.ts';
import type { ImageResult, Outcome } from '../report/results.ts';
import type { ImportPass, PassReport } from './watch.ts';

/** How to start the one-shot importer: the bundled runtime's node (through its loader) or this process's own. */
export interface ImporterCommand {
  file: string;
  args: readonly string[];
}

/** The environment variables that make the importer watch: a child pass must run once and exit. */
const WATCH_ENV = ['AIRLOCK_WATCH', 'AIRLOCK_INTERVAL'];

export class ImportPassError extends AirlockError {
  readonly command: string;
  constructor(command: string, reason: string) {
    super('COMMAND_FAILED', reason);
    this.command = command;
  }
}

const OUTCOMES = new Set<Outcome>(['imported', 'skipped', 'failed']);

interface SummaryEntry {
  archive?: unknown;
  outcome?: unknown;
  seconds?: unknown;
  reason?: unknown;
  code?: unknown;
  bytes?: unknown;
  names?: unknown;
  digest?: unknown;
}

/** One result of the child's import-summary, checked field by field (the summary is the importer's own JSON). */
const resultOf = (entry: SummaryEntry): ImageResult | undefined => {
  if (typeof entry.archive !== 'string' || !OUTCOMES.has(entry.outcome as Outcome)) return undefined;
  return {
    image: entry.archive,
    outcome: entry.outcome as Outcome,
    seconds: typeof entry.seconds === 'number' ? entry.seconds : 0,
    ...(typeof entry.reason === 'string' ? { reason: entry.reason } : {}),
    ...(typeof entry.code === 'string' ? { code: entry.code as ImageResult['code'] } : {}),
    ...(typeof entry.bytes === 'number' ? { bytes: entry.bytes } : {}),
    ...(Array.isArray(entry.names) ? { names: entry.names.filter((name) => typeof name === 'string') } : {}),
    ...(typeof entry.digest === 'string' ? { digest: entry.digest } : {}),
  };
};

const SUMMARY_PREFIX = '{"airlock":"import-summary"';

/** A summary line cut short (the importer killed while writing it) counts as no summary. */
const parseSummary = (line: string): Record<string, unknown> | undefined => {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
};

/** The pass's outcome from the child's stdout: its summary's results, or the reason it produced none. */
export const readPassOutput = (command: string, stdout: string, exitCode: number | null): PassReport => {
  const lines = stdout.split('\n');
  const summaryLine = lines.findLast((line) => line.startsWith(SUMMARY_PREFIX));
  const summary = summaryLine ? parseSummary(summaryLine) : undefined;
  if (!summary || typeof summary.error === 'string' || !Array.isArray(summary.results)) {
    const said = lines.findLast((line) => line.startsWith('error: '))?.slice('error: '.length);
    const reason =
      (typeof summary?.error === 'string' ? summary.error : said) ??
      `the importer exited with code ${exitCode} and no summary`;
    throw new ImportPassError(command, reason);
  }
  const results = (summary.results as SummaryEntry[]).map(resultOf);
  if (results.some((result) => result === undefined))
    throw new ImportPassError(command, 'the importer printed a summary this keeper cannot read');
  return {
    results: results as ImageResult[],
    ...(typeof summary.runtime === 'string' && typeof summary.endpoint === 'string'
      ? { runtime: { kind: summary.runtime, endpoint: summary.endpoint } }
      : {}),
    notes: lines.filter((line) => line.startsWith('warning: ') || line.startsWith('error: ')),
  };
};

const childEnv = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(env).filter(([name]) => !WATCH_ENV.includes(name)));

/**
 * A pass that runs `importer args`: its stderr passes through, its warnings and errors are logged once the
 * summary was read, and a stop signal is handed on as SIGTERM (the importer then stops between archives).
 */
export const childImportPass =
  (importer: ImporterCommand, args: readonly string[], env: NodeJS.ProcessEnv, logger: Logger): ImportPass =>
  (signal) =>
    new Promise<PassReport>((resolve, reject) => {
      const { file, args: argv } = launchOf(importer.file, [...importer.args, ...args]);
      const child = spawn(file, argv, {
        env: childEnv(env),
        stdio: ['ignore', 'pipe', 'inherit'],
        ...(signal ? { signal, killSignal: 'SIGTERM' as const } : {}),
      });
      const chunks: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
      child.once('error', (error) =>
        reject(
          signal?.aborted ? error : new ImportPassError(file, `the importer did not start: ${error.message}`),
        ),
      );
      child.once('close', (code) => {
        try {
          const report = readPassOutput(file, Buffer.concat(chunks).toString('utf8'), code);
          for (const note of report.notes ?? []) {
            if (note.startsWith('warning: ')) logger.warn(note.slice('warning: '.length));
            else logger.error(note.slice('error: '.length));
          }
          resolve(report);
        } catch (error) {
          reject(error);
        }
      });
    });
