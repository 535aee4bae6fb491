import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { criClient, isNotFound } from '../cri.ts';

/**
 * Removes a pod's directory tree. A pod runner still alive may restart a container meanwhile, whose log file then
 * appears in a directory the removal already emptied (ENOTEMPTY): rm retries those, as it does for EBUSY.
 */
export const removeTree = (path: string): Promise<void> =>
  rm(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });

const ignoreGone = (error: unknown) => {
  if (!isNotFound(error)) throw error;
};

/**
 * Stops and removes one sandbox. A pod runner still alive may start a container (a restart) between the stop and
 * the removal, which containerd then refuses ("still running, to stop first"): stop again and retry, as kubelet's
 * pod killer does on its next sync.
 */
const removeSandbox = async (cri: ReturnType<typeof criClient>, id: string): Promise<void> => {
  for (let attempt = 1; ; attempt += 1) {
    await cri.stopPodSandbox(id).catch(ignoreGone);
    for (const container of await cri.listContainers({ podSandboxId: id })) {
      await cri.stopContainer(container.id, 0).catch(ignoreGone);
    }
    try {
      await cri.removePodSandbox(id);
      return;
    } catch (error) {
      if (isNotFound(error)) return;
      if (attempt >= 5 || !/still running|to stop first|starting state/.test(String(error))) throw error;
      // A container still starting settles within moments; give it one before stopping again.
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
};

/**
 * Removes every pod kubelet-style labels mark on the containerd at `address` (sandboxes and their containers;
 * only those started for node `nodeName` when given) and the node's pod volumes and logs below `root`: what
 * `node down` and `down` leave behind otherwise. Returns how many sandboxes it removed.
 */
export const cleanUpNodePods = async (address: string, root: string, nodeName?: string): Promise<number> => {
  const cri = criClient(address);
  const sandboxes = await cri.listPodSandbox();
  const ours = sandboxes.filter(
    (sandbox) =>
      sandbox.labels['io.kubernetes.pod.uid'] !== undefined &&
      (nodeName === undefined || sandbox.annotations['io.airlock.node'] === nodeName),
  );
  for (const sandbox of ours) await removeSandbox(cri, sandbox.id);
  await removeTree(join(root, 'var', 'lib', 'kubelet', 'pods'));
  await removeTree(join(root, 'var', 'log', 'pods'));
  return ours.length;
};
