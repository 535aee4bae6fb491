// One kubelet per node, in the daemon's process: registers the Node, posts heartbeats and images, and runs the
// pods bound to its node through CRI on the node's own containerd (rig/pods), writing their status back.
import type { IPod } from 'kubernetes-models/v1/Pod';
import { listImages } from '../cri.ts';
import {
  type ConfigMapData,
  cleanUpNodePods,
  type PodHandle,
  type SecretData,
  startPod,
} from '../pods/index.ts';
import { type ClusterIdentity, issueToken } from './api/identity.ts';
import type { Store } from './api/store.ts';
import type { KubeObject, WatchEvent } from './api/types.ts';
import { type NodeImage, nodeObject, nodeStatus } from './node-status.ts';

export interface KubeletOptions {
  store: Store;
  name: string;
  /** The node's root: hostPath `/p` is `<root>/p`. */
  root: string;
  /** The node's containerd socket. */
  address: string;
  runtimeVersion: string;
  /** The in-cluster endpoint and the identity that signs the pods' service account tokens. */
  api: NodeApi;
  log: (line: string) => void;
}

export interface NodeApi {
  identity: ClusterIdentity;
  host: string;
  port: number;
}

/** Seconds between heartbeats (and image refreshes). */
const HEARTBEAT = 1;

export class Kubelet {
  readonly pods = new Map<string, PodHandle>();
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private images: NodeImage[] = [];

  constructor(private readonly options: KubeletOptions) {}

  get name(): string {
    return this.options.name;
  }

  async start(): Promise<void> {
    await this.refreshImages();
    this.register();
    this.unsubscribe = this.options.store.subscribe((event) => this.onEvent(event));
    for (const pod of this.options.store.list('pods'))
      this.onEvent({ type: 'ADDED', resource: 'pods', object: pod });
    this.timer = setInterval(() => void this.heartbeat(), HEARTBEAT * 1000);
  }

  /** The node going down: heartbeats stop, its pods' containers are killed and nothing starts any more. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.unsubscribe?.();
    const handles = [...this.pods.values()];
    this.pods.clear();
    await Promise.all(handles.map((handle) => handle.stop(0).catch(() => undefined)));
    await cleanUpNodePods(this.options.address, this.options.root).catch(() => undefined);
  }

  private register(): void {
    const { store, name } = this.options;
    const facts = { name, runtimeVersion: this.options.runtimeVersion };
    const existing = store.get('nodes', undefined, name);
    const node = existing ?? store.create('nodes', nodeObject(facts));
    store.update('nodes', { ...node, status: nodeStatus(facts, node.status, this.images) });
  }

  private async refreshImages(): Promise<void> {
    const images = await listImages(this.options.address);
    this.images = images.map((image) => ({
      names: [...image.repoTags, ...image.repoDigests],
      sizeBytes: Number(image.size),
    }));
  }

  private async heartbeat(): Promise<void> {
    try {
      await this.refreshImages();
    } catch (error) {
      this.options.log(`${this.name}: ListImages failed: ${(error as Error).message}`);
    }
    if (!this.timer) return;
    this.register();
  }

  private onEvent(event: WatchEvent): void {
    if (event.resource !== 'pods' || event.object.spec?.nodeName !== this.name) return;
    const pod = event.object;
    const uid = pod.metadata.uid ?? '';
    if (event.type === 'DELETED') {
      const handle = this.pods.get(uid);
      this.pods.delete(uid);
      void handle
        ?.remove(2)
        .catch((error) => this.options.log(`${this.name}: removing ${pod.metadata.name}: ${error}`));
      return;
    }
    if (this.pods.has(uid) || ['Succeeded', 'Failed'].includes(pod.status?.phase)) return;
    this.run(pod);
  }

  private run(pod: KubeObject): void {
    const { store, name, root, address, api } = this.options;
    const handle = startPod(pod as unknown as IPod, {
      address,
      node: {
        name,
        root,
        resolver: {
          configMap: (namespace, configMap) =>
            store.get('configmaps', namespace, configMap) as ConfigMapData | undefined,
          secret: (namespace, secret) => store.get('secrets', namespace, secret) as SecretData | undefined,
          serviceAccountToken: (request) => issueToken(api.identity, store, request),
        },
        serviceEnv: {
          KUBERNETES_SERVICE_HOST: api.host,
          KUBERNETES_SERVICE_PORT: String(api.port),
          KUBERNETES_SERVICE_PORT_HTTPS: String(api.port),
          KUBERNETES_PORT: `tcp://${api.host}:${api.port}`,
        },
      },
    });
    this.pods.set(pod.metadata.uid ?? '', handle);
    handle.onStatus((status) => this.writeStatus(pod, status));
  }

  private writeStatus(pod: KubeObject, status: unknown): void {
    if (!this.pods.has(pod.metadata.uid ?? '')) return;
    const { store } = this.options;
    const current = store.get('pods', pod.metadata.namespace, pod.metadata.name ?? '');
    if (!current || current.metadata.uid !== pod.metadata.uid) return;
    const next = structuredClone(status) as KubeObject['status'];
    const scheduled = (current.status?.conditions ?? []).find(
      (condition: { type: string }) => condition.type === 'PodScheduled',
    );
    const conditions = (next.conditions ?? []).filter(
      (condition: { type: string }) => condition.type !== 'PodScheduled',
    );
    next.conditions = scheduled ? [...conditions, scheduled] : conditions;
    next.qosClass ??= current.status?.qosClass;
    store.update('pods', { ...current, status: next });
  }
}
