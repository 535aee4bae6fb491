// A node of the stand-in: its own containerd (root below the node's directory, socket at
// <root>/run/containerd/containerd.sock as on a real node), the pause image, and a kubelet.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type RigContainerd, startContainerd } from '../containerd.ts';
import { importPauseImage } from '../pause-image.ts';
import type { Store } from './api/store.ts';
import { Kubelet, type NodeApi } from './kubelet.ts';

export interface ClusterNode {
  name: string;
  root: string;
  address: string;
  containerd?: RigContainerd;
  kubelet?: Kubelet;
}

const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const checkNodeName = (name: string): void => {
  if (name.length > 40 || !NODE_NAME.test(name)) {
    throw new Error(`node name ${JSON.stringify(name)}: use lower-case letters, digits and '-' (at most 40)`);
  }
};

/** Starts the node's containerd (unless running) and a fresh kubelet; its directory may already hold files. */
export const bootNode = async (
  store: Store,
  api: NodeApi,
  node: ClusterNode,
  log: (line: string) => void,
): Promise<void> => {
  if (node.kubelet) return;
  if (!node.containerd) {
    await mkdir(node.root, { recursive: true });
    const started = Date.now();
    const containerd = await startContainerd({
      dir: join(node.root, 'var', 'lib', 'containerd'),
      address: node.address,
    });
    node.containerd = containerd;
    const up = Date.now();
    await importPauseImage({ address: containerd.address, snapshotter: containerd.snapshotter });
    log(`${node.name}: containerd ${up - started} ms, pause image ${Date.now() - up} ms`);
  }
  const kubelet = new Kubelet({
    store,
    name: node.name,
    root: node.root,
    address: node.address,
    runtimeVersion: node.containerd.version,
    api,
    log,
  });
  await kubelet.start();
  node.kubelet = kubelet;
};

/** `node down`: the kubelet stops (no heartbeats, no pods start); containerd keeps its images for inspection. */
export const haltNode = async (node: ClusterNode): Promise<void> => {
  const kubelet = node.kubelet;
  node.kubelet = undefined;
  await kubelet?.stop();
};

export const stopNode = async (node: ClusterNode): Promise<void> => {
  await haltNode(node);
  const containerd = node.containerd;
  node.containerd = undefined;
  await containerd?.stop();
};
