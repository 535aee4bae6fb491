// What happens on the air-gapped node: the one-time bootstrap of the importer image, the hook Job's pod run
// by the kubelet stand-in, and the checks an operator makes afterwards.
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { run } from '../../lib/exec/run.ts';
import { normalizeReference } from '../../lib/reference/index.ts';
import { imageStatus } from '../../rig/cri.ts';
import { runPod } from '../../rig/kubelet.ts';
import type { RigInfo } from '../../rig/types.ts';
import { NODE_NAME, RELEASE } from './chart.ts';
import type { StepReporter } from './steps.ts';

type NodeRig = Pick<RigInfo, 'containerd' | 'docker'>;

// ctr finds the throwaway containerd through the environment, so the commands read as on a real node.
const ctrEnv = (rig: NodeRig) => ({
  CONTAINERD_ADDRESS: rig.containerd.address,
  CONTAINERD_SNAPSHOTTER: rig.containerd.snapshotter,
});

/** The archive the exporter wrote for the importer image, by the name in images.json's file field. */
export const importerArchive = (archives: readonly string[]): string => {
  const archive = archives.find((name) => name.startsWith('airlock_importer_'));
  if (!archive) throw new Error(`no airlock_importer_* archive among: ${archives.join(', ')}`);
  return archive;
};

/**
 * OFFLINE-IMAGES.md's bootstrap, once per node: the hook cannot import the image it runs in.
 * `gunzip -c <archive>.tar.gz | ctr -n k8s.io images import -`, or `ctr ... import <archive>.tar` when uncompressed.
 */
export const bootstrapImporter = async (
  report: StepReporter,
  rig: NodeRig,
  imagesDir: string,
  archive: string,
): Promise<void> => {
  const script = archive.endsWith('.gz')
    ? `gunzip -c images/${archive} | ctr -n k8s.io images import -`
    : `ctr -n k8s.io images import images/${archive}`;
  report.note(`$ ${script}`);
  const { stdout, stderr } = await run('sh', ['-c', script.replaceAll('images/', './')], {
    cwd: imagesDir,
    env: ctrEnv(rig),
    timeout: 5 * 60_000,
  });
  report.quote(`${stdout}\n${stderr}`.trim());
};

export interface HookRun {
  exitCode: number;
  logs: string;
  /** The importer's last line: `{"airlock":"import-summary",...}`. */
  summary?: { imported: number; skipped: number; failed: number; runtime: string | null };
}

/** Runs the hook Job's pod the way kubelet would on NODE_NAME, with the node's paths played by the rig's. */
export const runImportHook = async (rig: NodeRig, pod: IPodSpec, imagesDir: string): Promise<HookRun> => {
  const hostPaths: Record<string, string> = {};
  for (const volume of pod.volumes ?? []) {
    if (!volume.hostPath) continue;
    hostPaths[volume.hostPath.path] = volume.hostPath.type === 'Socket' ? rig.containerd.address : imagesDir;
  }
  const { exitCode, logs } = await runPod(rig, pod, {
    runtime: 'containerd',
    nodeName: NODE_NAME,
    podName: `${RELEASE}-image-import`,
    hostPaths,
  });
  const summaryLine = logs
    .split('\n')
    .reverse()
    .find((line) => line.startsWith('{"airlock":"import-summary"'));
  return { exitCode, logs, ...(summaryLine ? { summary: JSON.parse(summaryLine) } : {}) };
};

export interface ImageCheck {
  /** As the pod spec writes it. */
  image: string;
  found: boolean;
  names: string[];
}

/** CRI ImageStatus for each image, the question kubelet asks before it would pull. */
export const checkImagesPresent = async (rig: NodeRig, images: readonly string[]): Promise<ImageCheck[]> => {
  const checks: ImageCheck[] = [];
  for (const image of images) {
    const status = await imageStatus(rig.containerd.address, normalizeReference(image));
    checks.push({ image, found: status.found, names: [...status.repoTags, ...status.repoDigests] });
  }
  return checks;
};

/** `ctr -n k8s.io images ls`, only the chart's repositories: what an operator types on the node. */
export const listNodeImages = async (rig: NodeRig, filter: string): Promise<string[]> => {
  const { stdout } = await run('ctr', ['-n', 'k8s.io', 'images', 'ls'], { env: ctrEnv(rig) });
  const [header = '', ...rows] = stdout.split('\n');
  return [header, ...rows.filter((row) => row.includes(filter))];
};
