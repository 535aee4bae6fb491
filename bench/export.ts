import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildImporterBundle } from '../importer/build.ts';
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
   * The exporter as esbuild bundles it (bench/export.ts bundleExporter), run by a plain `node`; without it,
   * `node --import tsx scripts/export-images.ts`, which is what the script's shebang amounts to.
   */
  bundle?: string;
  /** Names the output folder, so two variants of one workload do not share it. */
  variant?: string;
}

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
  const entry = options.bundle ? [options.bundle] : ['--import', 'tsx', 'scripts/export-images.ts'];
  const cell = await repeat(
    context.reps,
    () =>
      measureCommand(
        process.execPath,
        [
          ...entry,
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
  return { cell, output, archiveBytes: await folderBytes(output) };
};

/**
 * The exporter bundled the way importer/build.ts bundles the importer, to measure what loading the
 * TypeScript sources through tsx costs at every run.
 */
export const bundleExporter = (dir: string): Promise<string> =>
  buildImporterBundle(join(dir, 'export-images.mjs'), join(REPO_ROOT, 'scripts/export-images.ts'));

/** Every distinct blob downloaded once to nowhere: no export can beat this on the same registry. */
export const measurePhysicalLimit = (context: ExportContext, workload: Workload): Promise<Cell> =>
  repeat(context.reps, () =>
    timeWork(() => downloadEveryBlobOnce(context.rig.registry.url, workload.images)),
  );

/** The same download into files, fsynced: the floor for any export that leaves archives on disk. */
export const measureDiskLimit = async (context: ExportContext, workload: Workload): Promise<Cell> => {
  const into = join(context.dir, workload.key, 'blobs');
  return repeat(
    context.reps,
    () => timeWork(() => downloadEveryBlobOnce(context.rig.registry.url, workload.images, into)),
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

/** `skopeo copy docker://... docker-archive:...`, one archive per image, one image after the other. */
export const measureSkopeo = async (context: ExportContext, workload: Workload): Promise<Cell> => {
  const output = join(context.dir, workload.key, 'skopeo');
  return repeat(
    context.reps,
    () => measureShell(SKOPEO_LOOP, [output, ...workload.images.map(({ reference }) => reference)]),
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
