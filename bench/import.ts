import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { buildImporterBundle } from '../importer/build.ts';
import { run } from '../lib/exec/run.ts';
import type { RigInfo } from '../rig/types.ts';
import { REPO_ROOT, removeDockerImages } from './export.ts';
import { type Cell, measureCommand, measureShell, repeat } from './measure.ts';

const NAMESPACE = 'k8s.io';

export interface ImportContext {
  rig: Pick<RigInfo, 'registry' | 'containerd' | 'docker'>;
  reps: number;
}

export interface ImportFigures {
  /** airlock's importer into containerd, images absent before each repetition. */
  airlockContainerd: Cell;
  /** `gunzip -c archive | ctr images import -` of the same archives. */
  ctr: Cell;
  /** The same with `--concurrency 2`: two archives in the runtime at once. */
  airlockContainerdParallel: Cell;
  /** airlock's importer run again with every image already present. */
  airlockReimport: Cell;
  /** `ctr images import` of archives whose images are already present. */
  ctrReimport: Cell;
  /** airlock's importer into dockerd. */
  airlockDocker: Cell;
  /** `docker load -i` of the same archives. */
  dockerLoad: Cell;
}

/**
 * Deletes every image of the rig registry from containerd's k8s.io namespace. `--sync` waits for the garbage
 * collector, so the next repetition writes every blob and snapshot again: a real import, not a relabel.
 */
export const removeContainerdImages = async (context: ImportContext): Promise<void> => {
  const base = ['--address', context.rig.containerd.address, '-n', NAMESPACE];
  const { stdout } = await run('ctr', [...base, 'images', 'ls', '-q']);
  const names = stdout.split('\n').filter((name) => name.startsWith(`${context.rig.registry.host}/`));
  if (names.length > 0) await run('ctr', [...base, 'images', 'rm', '--sync', ...names]);
};

const CTR_IMPORT_LOOP = `address=$1; shift
for archive in "$@"; do
  gunzip -c "$archive" | ctr --address "$address" -n ${NAMESPACE} images import - >/dev/null || exit 1
done`;

const DOCKER_LOAD_LOOP = 'for archive in "$@"; do docker load -q -i "$archive" >/dev/null || exit 1; done';

/** The node flags the hook's pods run the importer with (NODE_OPTIONS in helm/templates/image-import/_helpers.tpl). */
export const HOOK_NODE_OPTIONS = '--max-semi-space-size=1';

/** The importer as the hook Job runs it: the esbuild bundle under a plain `node` (importer/build.ts). */
export const bundleImporter = (dir: string): Promise<string> =>
  buildImporterBundle(join(dir, 'importer.mjs'));

const importer = (bundle: string, archives: string, runtimeArgs: readonly string[]) =>
  measureCommand(process.execPath, [bundle, '--dir', archives, '--strict', ...runtimeArgs], {
    cwd: REPO_ROOT,
    env: { NODE_OPTIONS: HOOK_NODE_OPTIONS },
  });

/** airlock's importer into containerd, the images deleted before each repetition (the scale check). */
export const measureContainerdImport = (context: ImportContext, bundle: string, dir: string): Promise<Cell> =>
  repeat(
    context.reps,
    () =>
      importer(bundle, dir, [
        '--runtime',
        'containerd',
        '--containerd-address',
        context.rig.containerd.address,
      ]),
    () => removeContainerdImages(context),
  ).finally(() => removeContainerdImages(context));

/**
 * Import of the exporter's archives (`dir`) by airlock and by the runtimes' own commands, each starting from
 * a runtime without the images; then airlock again on an unchanged set.
 */
export const measureImports = async (
  context: ImportContext,
  bundle: string,
  dir: string,
  references: readonly string[],
): Promise<ImportFigures> => {
  const archives = (await readdir(dir))
    .filter((name) => name.endsWith('.tar.gz') || name.endsWith('.tar'))
    .map((name) => join(dir, name));
  const { address } = context.rig.containerd;
  const dockerHost = context.rig.docker.host;
  const containerdArgs = ['--runtime', 'containerd', '--containerd-address', address];
  const dockerArgs = ['--runtime', 'docker', '--docker-host', dockerHost];
  const freshContainerd = () => removeContainerdImages(context);
  const freshDocker = () => removeDockerImages(dockerHost, references);

  const airlockContainerd = await repeat(
    context.reps,
    () => importer(bundle, dir, containerdArgs),
    freshContainerd,
  );
  const airlockContainerdParallel = await repeat(
    context.reps,
    () => importer(bundle, dir, [...containerdArgs, '--concurrency', '2']),
    freshContainerd,
  );
  const airlockReimport = await repeat(context.reps, () => importer(bundle, dir, containerdArgs));
  const ctrReimport = await repeat(context.reps, () => measureShell(CTR_IMPORT_LOOP, [address, ...archives]));
  const ctr = await repeat(
    context.reps,
    () => measureShell(CTR_IMPORT_LOOP, [address, ...archives]),
    freshContainerd,
  );
  await freshContainerd();

  const env = { DOCKER_HOST: dockerHost };
  const airlockDocker = await repeat(context.reps, () => importer(bundle, dir, dockerArgs), freshDocker);
  const dockerLoad = await repeat(
    context.reps,
    () => measureShell(DOCKER_LOAD_LOOP, archives, { env }),
    freshDocker,
  );
  await freshDocker();
  return {
    airlockContainerd,
    airlockContainerdParallel,
    ctr,
    airlockReimport,
    ctrReimport,
    airlockDocker,
    dockerLoad,
  };
};
