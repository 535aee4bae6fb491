import { parseArgs } from 'node:util';
import { AirlockError } from '../lib/errors.ts';

const MIB = 1024 * 1024;

/** What one bench run measures; every size and count has an environment variable so a quick run is one line. */
export interface BenchSettings {
  /** Bytes of the incompressible file in the large image's big layer (BENCH_LARGE_MB, default 300). */
  largeBytes: number;
  /** Images in the shared-base set (BENCH_SMALL_COUNT, default 30). */
  smallCount: number;
  /** The smaller set the scaling check compares against (BENCH_SMALL_SUBSET, default a third of the set, at least 2). */
  smallSubset: number;
  /** Shared base layer of the set (BENCH_SMALL_BASE_MB, default 3). */
  smallBaseBytes: number;
  /** Each image's own layer in the set (BENCH_SMALL_OWN_MB, default 0.5). */
  smallOwnBytes: number;
  /** Images of the opt-in scale check (BENCH_SCALE_COUNT, default 0: off; the figure is 100). */
  scaleCount: number;
  /** Each scale image's own incompressible layer (BENCH_SCALE_OWN_MB, default 30: 100 images are 3 GiB). */
  scaleOwnBytes: number;
  /** Repetitions per cell; the table shows the median (BENCH_REPS, default 3). */
  reps: number;
  /** Also print the table as Markdown, for docs/benchmarks.md (--markdown). */
  markdown: boolean;
  /** Write the raw figures as JSON to this file (--json FILE). */
  jsonFile?: string;
}

export const BENCH_USAGE = `Usage: npm run bench -- [--markdown] [--json FILE]

Measures export and import against the real rig (registry, containerd, dockerd) and prints one table.

Environment:
  BENCH_LARGE_MB      size of the large image's incompressible layer, MiB (default 300)
  BENCH_SMALL_COUNT   images in the shared-base set (default 30)
  BENCH_SMALL_SUBSET  smaller set for the scaling check (default a third of BENCH_SMALL_COUNT)
  BENCH_SMALL_BASE_MB shared base layer, MiB (default 3)
  BENCH_SMALL_OWN_MB  each image's own layer, MiB (default 0.5)
  BENCH_REPS          repetitions per cell, median shown (default 3)
  BENCH_SCALE_COUNT   images of the scale check, compared with its first 10 (default 0: skipped; 100 takes
                      3 GiB and many minutes)
  BENCH_SCALE_OWN_MB  each scale image's own incompressible layer, MiB (default 30)

Quick run (under two minutes): BENCH_LARGE_MB=40 BENCH_SMALL_COUNT=6 BENCH_REPS=1 npm run bench
`;

const number = (env: NodeJS.ProcessEnv, name: string, fallback: number, minimum: number): number => {
  const text = env[name];
  if (text === undefined || text.trim() === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < minimum) {
    throw new AirlockError(
      'BAD_INPUT',
      `${name}: expected a number of at least ${minimum}, got ${JSON.stringify(text)}`,
    );
  }
  return value;
};

/** The scale check compares its set with the set's first 10 images, so it needs more than 10 (or 0: off). */
const SCALE_BASE = 10;
const scaleCount = (env: NodeJS.ProcessEnv): number => {
  const count = Math.round(number(env, 'BENCH_SCALE_COUNT', 0, 0));
  if (count !== 0 && count <= SCALE_BASE) {
    throw new AirlockError(
      'BAD_INPUT',
      `BENCH_SCALE_COUNT: expected 0 (off) or more than ${SCALE_BASE}, got ${count}`,
    );
  }
  return count;
};

export const SCALE_SMALL_COUNT = SCALE_BASE;

/** Reads flags and BENCH_* variables; `undefined` means --help was asked for. */
export const readSettings = (
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): BenchSettings | undefined => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      markdown: { type: 'boolean', default: false },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  const smallCount = Math.round(number(env, 'BENCH_SMALL_COUNT', 30, 2));
  const smallSubset = Math.round(
    number(env, 'BENCH_SMALL_SUBSET', Math.max(2, Math.round(smallCount / 3)), 1),
  );
  if (smallSubset >= smallCount) {
    throw new AirlockError(
      'BAD_INPUT',
      `BENCH_SMALL_SUBSET (${smallSubset}) must be smaller than BENCH_SMALL_COUNT (${smallCount})`,
    );
  }
  return {
    largeBytes: Math.round(number(env, 'BENCH_LARGE_MB', 300, 1) * MIB),
    smallCount,
    smallSubset,
    smallBaseBytes: Math.round(number(env, 'BENCH_SMALL_BASE_MB', 3, 0.01) * MIB),
    smallOwnBytes: Math.round(number(env, 'BENCH_SMALL_OWN_MB', 0.5, 0.01) * MIB),
    reps: Math.round(number(env, 'BENCH_REPS', 3, 1)),
    scaleCount: scaleCount(env),
    scaleOwnBytes: Math.round(number(env, 'BENCH_SCALE_OWN_MB', 30, 0.01) * MIB),
    markdown: values.markdown ?? false,
    ...(values.json ? { jsonFile: values.json } : {}),
  };
};
