import { join } from 'node:path';

// Where a cluster keeps its files below DIR.
export const controlSocket = (dir: string): string => join(dir, 'control.sock');
export const kubeconfigPath = (dir: string): string => join(dir, 'kubeconfig');
export const daemonLog = (dir: string): string => join(dir, 'cluster.log');
export const pidFile = (dir: string): string => join(dir, 'daemon.pid');
export const nodeRoot = (dir: string, name: string): string => join(dir, 'nodes', name);
export const containerdSocket = (dir: string, name: string): string =>
  join(nodeRoot(dir, name), 'run', 'containerd', 'containerd.sock');
