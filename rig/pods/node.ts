import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { criClient, isNotFound } from '../cri.ts';

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
  for (const sandbox of ours) {
    const ignoreGone = (error: unknown) => {
      if (!isNotFound(error)) throw error;
    };
    await cri.stopPodSandbox(sandbox.id).catch(ignoreGone);
    // A runner may have started a container between the stop and now; containerd then refuses the removal.
    for (const container of await cri.listContainers({ podSandboxId: sandbox.id })) {
      await cri.stopContainer(container.id, 0).catch(ignoreGone);
    }
    await cri.removePodSandbox(sandbox.id).catch(ignoreGone);
  }
  await rm(join(root, 'var', 'lib', 'kubelet', 'pods'), { recursive: true, force: true });
  await rm(join(root, 'var', 'log', 'pods'), { recursive: true, force: true });
  return ours.length;
};
