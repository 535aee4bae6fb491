// What happens in the cluster: the images directory carried to every node, a real `helm install` whose hook Jobs
// import it, the logs as an operator reads them, and the checks kubelet would make on each node.
import { cp, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { normalizeReference } from '../../lib/reference/index.ts';
import type { ClusterStatus } from '../../rig/cluster/index.ts';
import { imageStatus } from '../../rig/cri.ts';
import { REPOSITORY_ROOT } from '../build-importer-image.ts';
import { INSTALL_SETTINGS, NAMESPACE, NODE_IMAGES_PATH, RELEASE } from './chart.ts';
import type { StepReporter } from './steps.ts';

/** Copies the images directory to NODE_IMAGES_PATH on every node (node X's `/p` is `<root>/p`). */
export const carryImages = async (report: StepReporter, cluster: ClusterStatus, output: string) => {
  for (const node of cluster.nodes) {
    const target = join(node.root, NODE_IMAGES_PATH);
    await mkdir(dirname(target), { recursive: true });
    await cp(output, target, { recursive: true, preserveTimestamps: true });
    report.note(`$ rsync -a images/ ${node.name}:${NODE_IMAGES_PATH}/`);
  }
};

const runQuoted = async (report: StepReporter, file: string, args: readonly string[], kubeconfig: string) => {
  const result = await execa(file, args, {
    all: true,
    reject: false,
    stdin: 'ignore',
    cwd: REPOSITORY_ROOT,
    env: { KUBECONFIG: kubeconfig },
    timeout: 10 * 60_000,
  });
  report.quote(String(result.all ?? ''));
  return { exitCode: result.exitCode ?? 1, output: String(result.all ?? '') };
};

/** `helm install` of the chart against the cluster; the pre-install hook imports on every node. */
export const helmInstall = async (report: StepReporter, helm: string, kubeconfig: string) => {
  const args = [
    ...['install', RELEASE, './helm', '-n', NAMESPACE, '--create-namespace'],
    ...INSTALL_SETTINGS.flatMap((setting) => ['--set', setting]),
    // No --wait: the demo's images hold no program to run; the hook Jobs are waited for all the same.
    ...['--timeout', '5m'],
  ];
  report.note(`$ helm ${args.join(' ')}`);
  return runQuoted(report, helm, args, kubeconfig);
};

/** OFFLINE-IMAGES.md's command for the import Jobs' logs, word for word. */
export const IMPORT_LOGS_COMMAND = [
  'logs',
  ...['-n', NAMESPACE, '-l', 'app.kubernetes.io/component=image-import', '--tail=-1', '--prefix'],
];

export const importLogs = async (report: StepReporter, kubectl: string, kubeconfig: string) => {
  report.note(`$ kubectl ${IMPORT_LOGS_COMMAND.join(' ')}`);
  return runQuoted(report, kubectl, IMPORT_LOGS_COMMAND, kubeconfig);
};

export interface ImageCheck {
  node: string;
  /** As the pod spec writes it. */
  image: string;
  found: boolean;
}

/** CRI ImageStatus for each image on each node, the question kubelet asks before it would pull. */
export const checkImagesPresent = async (
  cluster: ClusterStatus,
  images: readonly string[],
): Promise<ImageCheck[]> => {
  const checks: ImageCheck[] = [];
  for (const node of cluster.nodes) {
    for (const image of images) {
      const status = await imageStatus(node.containerd, normalizeReference(image));
      checks.push({ node: node.name, image, found: status.found });
    }
  }
  return checks;
};
