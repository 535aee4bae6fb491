// The API server with its store and the controllers that need no node: what `cluster up` starts first.
import { type ClusterIdentity, createClusterIdentity } from './api/identity.ts';
import { type PodLogWriter, startApiServer } from './api/server.ts';
import { Store } from './api/store.ts';
import type { KubeObject } from './api/types.ts';
import { startControllers } from './controllers/index.ts';

export interface ControlPlane {
  store: Store;
  url: string;
  identity: ClusterIdentity;
  /** The in-cluster HTTPS endpoint: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT in every pod. */
  secure: { host: string; port: number };
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
  const identity = await createClusterIdentity();
  const stopControllers = startControllers(store, { log: options.log, caPem: identity.caPem });
  seed(store);
  const server = await startApiServer({ store, podLogs: options.podLogs, log: options.log, identity });
  const stop = async (): Promise<void> => {
    stopControllers();
    await server.close();
  };
  return { store, url: server.url, identity, secure: server.secure!, stop };
};
