import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../lib/exec/run.ts';
import type { RigInfo } from '../rig/types.ts';
import { type Cell, measureCommand, measureShell, repeat, type Sample, timeWork, toCell } from './measure.ts';
import { downloadEveryBlobOnce, type Workload } from './workloads.ts';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface ExportContext {
  rig: Pick<RigInfo, 'registry' | 'docker' | 'helm'>;
  /** Scratch directory of this bench run. */
  dir: string;
  reps: number;
}

/** A chart with no templates and a config whose additional_images list the workload: what an operator would write. */
const writeExportConfig = async (workDir: string, workload: Workload): Promise<string> => {
  const chart = join(workDir, 'chart');
  await mkdir(chart, { recursive: true });
  await writeFile(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: bench\nversion: 0.1.0\n');
  await writeFile(join(chart, 'values.yaml'), '{}\n');
  const config = join(workDir, 'config.toml');
  const images = workload.images.map(({ reference }) => JSON.stringify(reference)).join(', ');
  await writeFile(config, `chart = "chart"\nadditional_images = [${images}]\n`);
  return config;
};

const folderBytes = async (dir: string): Promise<number> => {
  let bytes = 0;
  for (const name of await readdir(dir)) bytes += (await stat(join(dir, name))).size;
  return bytes;
};

export interface AirlockExport {
  cell: Cell;
  /** The archives of the last repetition, kept for the import measurements. */
  output: string;
  archiveBytes: number;
}

export interface AirlockExportOptions {
  compression: 'gzip' | 'none';
  /**
   * `script` (default): `./scripts/export-images.ts` as an operator runs it, which starts the bundle of
   * `npm ci` (lib/cli/launch.mjs). `tsx`: `node --import tsx scripts/export-images.ts`, what a checkout
   * whose bundle is stale or missing falls back to.
   */
  entry?: 'script' | 'tsx';
  /** `--list` only: start-up and discovery of the same configuration, no image pulled. */
  list?: boolean;
  /** Names the output folder, so two variants of one workload do not share it. */
  variant?: string;
}

/** The exporter's command line for `entry`, run from the repository. */
export const exporterCommand = (entry: 'script' | 'tsx' = 'script'): [string, string[]] =>
  entry === 'script'
    ? ['./scripts/export-images.ts', []]
    : [process.execPath, ['--import', 'tsx', 'scripts/export-images.ts']];

/** The exporter in a child process, as an operator runs it; one fresh output folder per repetition. */
export const measureAirlockExport = async (
  context: ExportContext,
  workload: Workload,
  options: AirlockExportOptions,
): Promise<AirlockExport> => {
  const workDir = join(context.dir, workload.key);
  const config = await writeExportConfig(workDir, workload);
  const output = join(workDir, `airlock-${options.variant ?? options.compression}`);
  const compressionArgs =
    options.compression === 'gzip'
      ? ['--compression', 'gzip', '--gzip-level', '0']
      : ['--compression', 'none'];
  const [file, entryArgs] = exporterCommand(options.entry);
  const cell = await repeat(
    context.reps,
    () =>
      measureCommand(
        file,
        [
          ...entryArgs,
          ...(options.list ? ['--list'] : []),
          '--config',
          config,
          '--output',
          output,
          '--helm',
          context.rig.helm.v3.path,
          ...compressionArgs,
        ],
        { cwd: REPO_ROOT },
      ),
    () => rm(output, { recursive: true, force: true }),
  );
  return { cell, output, archiveBytes: options.list ? 0 : await folderBytes(output) };
};

/** The bundle `npm ci` builds (lib/cli/build.ts), run by a plain `node` without the launcher's check. */
export const EXPORTER_BUNDLE = join(REPO_ROOT, 'dist/export-images.mjs');

/** Every distinct blob downloaded once to nowhere: no export can beat this on the same registry. */
export const measurePhysicalLimit = (context: ExportContext, workload: Workload): Promise<Cell> =>
  repeat(context.reps, () =>
    timeWork(() => downloadEveryBlobOnce(context.rig.registry.url, workload.images)),
  );

/**
 * The same download into files, fsynced: the floor for any export that leaves archives on disk. With `hashes`,
 * each byte is also hashed that many times on the way (2: the floor for checked blobs and SHA256SUMS).
 */
export const measureDiskLimit = async (
  context: ExportContext,
  workload: Workload,
  hashes = 0,
): Promise<Cell> => {
  const into = join(context.dir, workload.key, 'blobs');
  return repeat(
    context.reps,
    () => timeWork(() => downloadEveryBlobOnce(context.rig.registry.url, workload.images, into, hashes)),
    async () => {
      await rm(into, { recursive: true, force: true });
      await mkdir(into, { recursive: true });
    },
  );
};

const SKOPEO_LOOP = `out=$1; shift; n=0
for ref in "$@"; do
  n=$((n + 1))
  skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$ref" "docker-archive:$out/$n.tar:$ref" || exit 1
done`;

/**
 * skopeo does not fsync its archives; airlock fsyncs each one before giving it its name. `sync FILE...` (fsync of
 * each file) after the copies gives skopeo the same durability, so the two can be compared end to end.
 */
const SKOPEO_SYNC = `${SKOPEO_LOOP}
sync -- "$out"/*.tar`;

/**
 * `skopeo copy docker://... docker-archive:...`, one archive per image, one image after the other; with
 * `synced`, followed by an fsync of every archive.
 */
export const measureSkopeo = async (
  context: ExportContext,
  workload: Workload,
  synced = false,
): Promise<Cell> => {
  const output = join(context.dir, workload.key, synced ? 'skopeo-synced' : 'skopeo');
  return repeat(
    context.reps,
    () =>
      measureShell(synced ? SKOPEO_SYNC : SKOPEO_LOOP, [
        output,
        ...workload.images.map(({ reference }) => reference),
      ]),
    async () => {
      await rm(output, { recursive: true, force: true });
      await mkdir(output, { recursive: true });
    },
  );
};

export interface OriginalExport {
  pull: Cell;
  save: Cell;
  /** Pull plus save, per repetition. */
  total: Cell;
}

const PULL_LOOP = 'for ref in "$@"; do docker pull -q "$ref" >/dev/null || exit 1; done';
const SAVE_GZIP = 'out=$1; shift; docker save "$@" | gzip > "$out"';

/**
 * The original design: `docker pull` into a Docker daemon (the rig registry is on 127.0.0.1, which dockerd
 * treats as insecure), then `docker save | gzip`. The images are removed from dockerd before each repetition.
 */
export const measureOriginalDesign = async (
  context: ExportContext,
  workload: Workload,
): Promise<OriginalExport> => {
  const env = { DOCKER_HOST: context.rig.docker.host };
  const references = workload.images.map(({ reference }) => reference);
  const archive = join(context.dir, workload.key, 'docker-save.tar.gz');
  const pulls: Sample[] = [];
  const saves: Sample[] = [];
  const totals: Sample[] = [];
  for (let rep = 0; rep < context.reps; rep++) {
    await removeDockerImages(context.rig.docker.host, references);
    await rm(archive, { force: true });
    const pull = await measureShell(PULL_LOOP, references, { env });
    const save = await measureShell(SAVE_GZIP, [archive, ...references], { env });
    pulls.push(pull);
    saves.push(save);
    totals.push({ ms: pull.ms + save.ms });
  }
  await removeDockerImages(context.rig.docker.host, references);
  return { pull: toCell(pulls), save: toCell(saves), total: toCell(totals) };
};

/** Removes images from the rig dockerd, present or not. */
export const removeDockerImages = async (dockerHost: string, references: readonly string[]) => {
  await run('docker', ['rmi', '-f', ...references], { env: { DOCKER_HOST: dockerHost } }).catch(
    () => undefined,
  );
};
