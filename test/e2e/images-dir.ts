// The demo app's images pushed to the rig's registry (the worker pinned by digest), and the chart values that
// name them: what the e2e tests export with rig/images-dir.ts.
import { cp, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { inject } from 'vitest';
import { type ClusterStatus, startCluster } from '../../rig/cluster/index.ts';
import { ociImage, pushImage } from '../../rig/factory/index.ts';
import { writeImagesDir } from '../../rig/images-dir.ts';
import { makeRigDir } from '../../rig/workdir.ts';
import { imagesOf, renderChart } from '../chart/chart-render.ts';
import { against, type CommandResult, kubectlPath } from '../cluster/helpers.ts';

type Rig = ReturnType<typeof inject<'rig'>>;

export interface AppImages {
  /** Chart values that point every app image at the rig's registry. */
  values: Record<string, unknown>;
  /** The images the chart's Deployments name with those values. */
  references: string[];
}

/** Pushes the demo app's four images under a repository prefix of the test's own, and returns the values. */
export const pushAppImages = async (rig: Rig, prefix: string): Promise<AppImages> => {
  let workerDigest = '';
  for (const name of ['web', 'init', 'worker', 'metrics']) {
    const image = await ociImage({ name: `${prefix}-${name}` });
    const pushed = await pushImage(image, {
      registry: rig.registry.host,
      repository: `${prefix}/demo-${name}`,
      tag: '1.0.0',
    });
    if (name === 'worker') workerDigest = pushed.digest;
  }
  const image = (name: string) => ({ registry: rig.registry.host, repository: `${prefix}/demo-${name}` });
  const values = {
    web: { image: image('web'), initImage: image('init') },
    worker: { image: { ...image('worker'), digest: workerDigest }, metrics: { image: image('metrics') } },
  };
  const apps = (await renderChart(rig.helm.v3.path, values)).filter((object) => object.kind !== 'Job');
  return { values, references: imagesOf(apps) };
};

export interface AppStandIn {
  dir: string;
  apps: AppImages;
  /** The export of the app's images with the importer runtime, as an operator copies it to the nodes. */
  imagesDir: string;
  status: ClusterStatus;
  /** Runs a binary (helm, kubectl) against the stand-in's kubeconfig, with a home of its own. */
  run: (binary: string, args: string[], timeout?: number) => Promise<CommandResult>;
  kubectl: (args: string[]) => Promise<CommandResult>;
}

/** The demo app pushed under `prefix` and exported, and a stand-in of `nodes` nodes (DIR/cluster) to install on. */
export const startAppStandIn = async (rig: Rig, prefix: string, nodes: number): Promise<AppStandIn> => {
  const dir = await makeRigDir(`airlock-${prefix}-`);
  const apps = await pushAppImages(rig, prefix);
  const imagesDir = join(dir, 'export');
  await mkdir(imagesDir);
  await writeImagesDir(imagesDir, apps.references);
  const status = await startCluster({ dir: join(dir, 'cluster'), nodes });
  const run = against(status.kubeconfig, join(dir, 'home'));
  const kubectlBinary = await kubectlPath();
  return { dir, apps, imagesDir, status, run, kubectl: (args) => run(kubectlBinary, args) };
};

/**
 * What an operator does before each release: the images directory onto every node's disk, at `nodePath`. Copied
 * beside it, then renamed into place: a pod that the stand-in restarts meanwhile recreates the directory it mounts
 * (DirectoryOrCreate), empty, and rename replaces an empty directory where a copy into it would fail.
 */
export const copyToNodes = async (status: ClusterStatus, nodePath: string, source: string): Promise<void> => {
  for (const node of status.nodes) {
    const target = join(node.root, nodePath);
    const staged = `${target}.new`;
    await rm(staged, { recursive: true, force: true });
    await mkdir(join(target, '..'), { recursive: true });
    await cp(source, staged, { recursive: true });
    await rm(target, { recursive: true, force: true, maxRetries: 3 });
    await rename(staged, target);
  }
};
