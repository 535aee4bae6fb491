import { Writable } from 'node:stream';
import { expect, vi } from 'vitest';
import { z } from 'zod';
import { run } from '../../lib/exec/run.ts';
import { runImportCommand } from '../../lib/import/command.ts';
import { type ImportReport, importArchives } from '../../lib/import/import.ts';
import { type Logger, silentLogger } from '../../lib/report/log.ts';
import type { ContainerRuntime } from '../../lib/runtime/index.ts';
import { imageStatus } from '../../rig/cri.ts';
import type { RigInfo } from '../../rig/types.ts';
import { type ContainerdImageRow, parseImageList } from '../runtime/ctr-images.ts';

/** The one JSON line the importer prints for machines. */
export const ImportSummary = z.object({
  airlock: z.literal('import-summary'),
  node: z.string(),
  runtime: z.enum(['containerd', 'docker']).nullable(),
  endpoint: z.string().optional(),
  archives: z.number().optional(),
  imported: z.number(),
  skipped: z.number(),
  failed: z.number(),
  error: z.string().optional(),
  results: z
    .array(
      z.object({
        archive: z.string(),
        outcome: z.enum(['imported', 'skipped', 'failed']),
        seconds: z.number(),
        bytes: z.number().optional(),
        reason: z.string().optional(),
        code: z.string().optional(),
      }),
    )
    .optional(),
});
export type ImportSummary = z.infer<typeof ImportSummary>;

export interface ImportRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  lines: string[];
  summary: ImportSummary;
}

const collector = (): { stream: Writable; text: () => string } => {
  const chunks: Buffer[] = [];
  return {
    stream: new Writable({
      write(chunk, _encoding, callback) {
        chunks.push(Buffer.from(chunk));
        callback();
      },
    }),
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
};

/** Every line that parses as the summary; a run must print exactly one. */
export const summaryLines = (stdout: string): ImportSummary[] =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => ImportSummary.parse(JSON.parse(line)));

/** The outcome of each archive, from the summary line. */
export const outcomes = (summary: ImportSummary): Record<string, string> =>
  Object.fromEntries((summary.results ?? []).map((result) => [result.archive, result.outcome]));

export const resultOf = (summary: ImportSummary, archive: string) => {
  const result = summary.results?.find((entry) => entry.archive === archive);
  if (!result) throw new Error(`no result for ${archive} in ${JSON.stringify(summary)}`);
  return result;
};

/**
 * `runImportCommand` with an environment of its own (nothing of this process's AIRLOCK_* leaks in), its
 * stdout and stderr captured, and the JSON summary line parsed.
 */
export const runImport = async (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<ImportRun> => {
  const stdout = collector();
  const stderr = collector();
  const exitCode = await runImportCommand(argv, {
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: { NODE_NAME: 'node-a', ...env },
  });
  const text = stdout.text();
  const summaries = summaryLines(text);
  if (summaries.length !== 1 || !summaries[0]) {
    throw new Error(`expected exactly one summary line, got ${summaries.length}:\n${text}`);
  }
  return { exitCode, stdout: text, stderr: stderr.text(), lines: text.split('\n'), summary: summaries[0] };
};

/** `ctr -n k8s.io images ls` on the rig's containerd with `args` appended: the runtime's own listing, as text. */
export const ctrImageList = async (
  rig: Pick<RigInfo, 'containerd'>,
  args: readonly string[] = [],
): Promise<string> =>
  (await run('ctr', ['--address', rig.containerd.address, '-n', 'k8s.io', 'images', 'ls', ...args])).stdout;

/** The rig containerd's k8s.io images by name. */
export const containerdImages = async (
  rig: Pick<RigInfo, 'containerd'>,
): Promise<Map<string, ContainerdImageRow>> =>
  new Map(parseImageList(await ctrImageList(rig)).map((row) => [row.name, row]));

/** `registry/repo` of `registry/repo:tag` or `registry/repo@sha256:...`. */
const repositoryOf = (name: string): string => name.replace(/@.*$/, '').replace(/:[^:/]*$/, '');

/**
 * The names an import must leave on a containerd node, asked as kubelet asks (CRI ImageStatus, retried while the
 * CRI plugin's cache catches up with containerd's events): each is found; a `repo@digest` name is found as that
 * manifest (among the image's repo digests); and where `configs` gives its repository's config digest, the name
 * resolves to that image (CRI's image id), which a tag alone can be checked by.
 */
export const expectImagesOnNode = async (
  address: string,
  names: readonly string[],
  configs: ReadonlyMap<string, string> = new Map(),
): Promise<void> => {
  for (const name of names) {
    const repository = repositoryOf(name);
    const digest = /@(.+)$/.exec(name)?.[1];
    const config = configs.get(repository);
    await vi.waitFor(
      async () => {
        const status = await imageStatus(address, name);
        expect(status.found, `${name}: CRI ImageStatus`).toBe(true);
        if (digest) expect(status.repoDigests, name).toContain(name);
        if (config) expect(status.id, name).toBe(config);
      },
      { timeout: 15_000, interval: 200 },
    );
  }
};

/** Repository -> config digest of images, for expectImagesOnNode. */
export const configsOf = (images: readonly { names: readonly string[]; config: string }[]) =>
  new Map(images.flatMap(({ names, config }) => names.map((name) => [repositoryOf(name), config] as const)));

/** Removes images from the rig containerd; the CRI's `sha256:<config>` alias goes with its last name. */
export const removeContainerdImages = async (
  rig: Pick<RigInfo, 'containerd'>,
  names: readonly string[],
): Promise<void> => {
  if (names.length === 0) return;
  await run('ctr', ['--address', rig.containerd.address, '-n', 'k8s.io', 'images', 'rm', ...names]).catch(
    () => undefined,
  );
};

export interface CallCounts {
  listImages: number;
  importTar: number;
  pin: number;
}

/** The runtime adapter with every call counted: proof that a run streamed nothing, not a guess from timing. */
export const countingRuntime = (real: ContainerRuntime): { runtime: ContainerRuntime; calls: CallCounts } => {
  const calls: CallCounts = { listImages: 0, importTar: 0, pin: 0 };
  return {
    calls,
    runtime: {
      ...real,
      listImages: (names) => {
        calls.listImages += 1;
        return real.listImages(names);
      },
      importTar: (tar, options) => {
        calls.importTar += 1;
        return real.importTar(tar, options);
      },
      pin: (names) => {
        calls.pin += 1;
        return real.pin(names);
      },
    },
  };
};

/** importArchives over `dir` with every runtime call counted; the settings no test varies are fixed here. */
export const importCounting = async (
  dir: string,
  real: ContainerRuntime,
  images: readonly string[],
  logger: Logger = silentLogger,
): Promise<{ report: ImportReport; calls: CallCounts }> => {
  const { runtime, calls } = countingRuntime(real);
  const report = await importArchives({
    dir,
    runtime,
    images: { text: images.join('\n'), source: 'AIRLOCK_IMAGES' },
    concurrency: 2,
    retries: 0,
    timeoutMs: 60_000,
    logger,
  });
  return { report, calls };
};
