import { access, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, toCommandError } from '../lib/exec/run.ts';
import { ensureCommand } from '../rig/packages.ts';

const GNU_TIME = '/usr/bin/time';
/** How often the process tree's resident memory is sampled. */
const SAMPLE_MS = 50;

export interface Sample {
  ms: number;
  /** Largest single process of the tree, in KiB (GNU time's %M: the kernel's exact high-water mark). */
  maxProcessKib?: number;
  /** Largest sum of VmRSS over the whole process tree, in KiB, sampled every 50 ms. */
  treeKib?: number;
}

/** Repetitions of one cell; figures are their median, so one noisy repetition does not move the table. */
export interface Cell {
  samples: Sample[];
  ms: number;
  maxProcessKib?: number;
  treeKib?: number;
}

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

const medianOf = (samples: readonly Sample[], pick: (sample: Sample) => number | undefined) => {
  const values = samples.flatMap((sample) => {
    const value = pick(sample);
    return value === undefined ? [] : [value];
  });
  return values.length === 0 ? undefined : median(values);
};

export const toCell = (samples: Sample[]): Cell => {
  const maxProcessKib = medianOf(samples, (sample) => sample.maxProcessKib);
  const treeKib = medianOf(samples, (sample) => sample.treeKib);
  return {
    samples,
    ms: median(samples.map((sample) => sample.ms)),
    ...(maxProcessKib === undefined ? {} : { maxProcessKib }),
    ...(treeKib === undefined ? {} : { treeKib }),
  };
};

/** Runs `prepare` (not timed) then `work` (timed), `reps` times. */
export const repeat = async (
  reps: number,
  work: () => Promise<Sample>,
  prepare?: () => Promise<void>,
): Promise<Cell> => {
  const samples: Sample[] = [];
  for (let rep = 0; rep < reps; rep++) {
    await prepare?.();
    samples.push(await work());
  }
  return toCell(samples);
};

/** Times an in-process piece of work (no memory figures: it shares the bench's own heap). */
export const timeWork = async (work: () => Promise<unknown>): Promise<Sample> => {
  const started = performance.now();
  await work();
  return { ms: performance.now() - started };
};

const childrenOf = async (pid: number): Promise<number[]> => {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const children: number[] = [];
  for (const task of tasks) {
    const text = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '');
    for (const child of text.split(/\s+/)) if (child) children.push(Number(child));
  }
  return children;
};

const residentKib = async (pid: number): Promise<number> => {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
};

/** Sum of VmRSS of every descendant of `root` (not `root` itself: that is GNU time, a few hundred KiB). */
const treeResidentKib = async (root: number): Promise<number> => {
  const seen: number[] = [];
  const queue = await childrenOf(root);
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    seen.push(pid);
    queue.push(...(await childrenOf(pid)));
  }
  const sizes = await Promise.all(seen.map(residentKib));
  return sizes.reduce((sum, size) => sum + size, 0);
};

let gnuTimeReady: Promise<void> | undefined;
const ensureGnuTime = (): Promise<void> => {
  gnuTimeReady ??= access(GNU_TIME).catch(() => ensureCommand('time', 'time'));
  return gnuTimeReady;
};

export interface CommandOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Milliseconds before the command is killed (default 30 minutes). */
  timeout?: number;
}

/**
 * Runs a command under GNU time and samples its process tree's memory while it runs. Wall time is taken
 * around the whole run, process start included: that is what a person waiting for the command sees.
 */
export const measureCommand = async (
  file: string,
  args: readonly string[],
  options: CommandOptions = {},
): Promise<Sample> => {
  await ensureGnuTime();
  const dir = await mkdtemp(join(tmpdir(), 'bench-time-'));
  const report = join(dir, 'time');
  try {
    const started = performance.now();
    const subprocess = spawn(GNU_TIME, ['-f', '%M', '-o', report, file, ...args], {
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(options.env ? { env: options.env } : {}),
      timeout: options.timeout ?? 30 * 60_000,
    });
    let treeKib = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling && subprocess.pid !== undefined) {
        treeKib = Math.max(treeKib, await treeResidentKib(subprocess.pid));
        await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
      }
    })();
    try {
      await subprocess;
    } catch (error) {
      throw toCommandError([file, ...args].join(' '), error);
    } finally {
      sampling = false;
      await sampler;
    }
    const ms = performance.now() - started;
    const maxProcessKib = Number((await readFile(report, 'utf8')).trim().split('\n').at(-1));
    return { ms, ...(Number.isFinite(maxProcessKib) ? { maxProcessKib } : {}), treeKib };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

/** `bash -c script` with pipefail and positional arguments ($1, $2, ...), for pipelines such as `docker save | gzip`. */
export const measureShell = (script: string, args: readonly string[], options: CommandOptions = {}) =>
  measureCommand('bash', ['-c', `set -o pipefail\n${script}`, 'bench', ...args], options);
