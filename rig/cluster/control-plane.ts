// The API server with its store and the controllers that need no node: what `cluster up` starts first.
import type { Server } from 'node:http';
import { type PodLogWriter, startApiServer } from './api/server.ts';
import { Store } from './api/store.ts';
import type { KubeObject } from './api/types.ts';
import { startControllers } from './controllers/index.ts';

export interface ControlPlane {
  store: Store;
  url: string;
  stop(): Promise<void>;
}

const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

const seed = (store: Store): void => {
  for (const name of SYSTEM_NAMESPACES) {
    const namespace: KubeObject = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: { 'kubernetes.io/metadata.name': name } },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    };
    store.create('namespaces', namespace);
  }
};

export const startControlPlane = async (options: {
  podLogs: PodLogWriter;
  log?: (line: string) => void;
}): Promise<ControlPlane> => {
  const store = new Store();
  const stopControllers = startControllers(store, options.log);
  seed(store);
  const { server, url } = await startApiServer({ store, podLogs: options.podLogs, log: options.log });
  const stop = async (): Promise<void> => {
    stopControllers();
    server.closeAllConnections();
    await new Promise((resolve) => (server as Server).close(resolve));
  };
  return { store, url, stop };
};
