import type { IPod } from 'kubernetes-models/v1/Pod';
import type { IPodStatus } from 'kubernetes-models/v1/PodStatus';

/** What a ConfigMap holds, as the API serves it. */
export interface ConfigMapData {
  data?: Record<string, string>;
  /** base64, as in the API object. */
  binaryData?: Record<string, string>;
}

/** What a Secret holds, as the API serves it: `data` values are base64. */
export interface SecretData {
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export interface ServiceAccountTokenRequest {
  namespace: string;
  serviceAccountName: string;
  audience?: string;
  expirationSeconds?: number;
  /** The pod the token is bound to. */
  podName: string;
  podUid: string;
}

/**
 * Objects the pod refers to, supplied by the caller (the API server stand-in). Each answers undefined when
 * the object does not exist: the pod then waits, as kubelet's does, and is retried on the next sync.
 */
export interface PodResolver {
  configMap(namespace: string, name: string): Promise<ConfigMapData | undefined> | ConfigMapData | undefined;
  secret(namespace: string, name: string): Promise<SecretData | undefined> | SecretData | undefined;
  /** A token for a projected serviceAccountToken source (kubelet asks the TokenRequest API). */
  serviceAccountToken(request: ServiceAccountTokenRequest): Promise<string> | string;
}

export interface NodeContext {
  /** The node's name: spec.nodeName and the `spec.nodeName` fieldRef. */
  name: string;
  /**
   * The directory playing the node's root: a hostPath `/p` is `<root>/p`. kubelet's own directories live below
   * it too: `<root>/var/log/pods` (container logs) and `<root>/var/lib/kubelet/pods` (volumes).
   */
  root: string;
  /** The node's IP, reported as status.hostIP and, the pods being host-network, status.podIP. Default 127.0.0.1. */
  ip?: string;
  resolver: PodResolver;
  /**
   * Variables kubelet gives every container before its own env (KUBERNETES_SERVICE_HOST/PORT, which it sets
   * even with enableServiceLinks off); the container's env wins on a clash.
   */
  serviceEnv?: Record<string, string>;
}

export interface PodRunnerOptions {
  /** containerd's CRI socket. */
  address: string;
  node: NodeContext;
  /** Milliseconds between syncs while the pod is not finished. Default 500. */
  syncInterval?: number;
  /** Restart back-off: first delay and cap, milliseconds. Default 10 s doubling to 300 s, as kubelet. */
  backoff?: { initial: number; max: number };
}

/** A kubelet event about the pod (`kubectl describe` shows them), e.g. FailedMount with its message. */
export interface PodEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** RFC 3339. */
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
}

export interface LogOptions {
  /** Container name; default the pod's only container (an error when it has several). */
  container?: string;
  /** The log of the previous (restarted) instance. */
  previous?: boolean;
  /** Only the last N lines; negative or undefined: all. */
  tailLines?: number;
  /** Prefix each line with its RFC 3339 nanosecond timestamp. */
  timestamps?: boolean;
  /** Stop after this many bytes of output. */
  limitBytes?: number;
  /** Only lines at or after this time. */
  sinceTime?: Date;
  /** Only lines from the last N seconds. */
  sinceSeconds?: number;
  /** Only one stream (the API's `stream` parameter); default both. */
  stream?: 'Stdout' | 'Stderr' | 'All';
}

export interface PodHandle {
  readonly pod: IPod;
  readonly uid: string;
  /** The status as last synced: phase, conditions, container statuses, as kubelet reports it. */
  status(): IPodStatus;
  /** Syncs now (starts what is due, reads CRI state) and returns the new status. */
  refresh(): Promise<IPodStatus>;
  /** Resolves with the status once `predicate` holds; rejects after `timeout` ms (default 60 s). */
  waitFor(predicate: (status: IPodStatus) => boolean, timeout?: number): Promise<IPodStatus>;
  /** Called after every sync that changed the status. Returns the unsubscribe function. */
  onStatus(listener: (status: IPodStatus) => void): () => void;
  events(): PodEvent[];
  /** `kubectl logs` text. */
  logs(options?: LogOptions): Promise<string>;
  /** `kubectl logs -f`: chunks of text until the container exits (or `signal` aborts). */
  followLogs(options?: LogOptions & { signal?: AbortSignal }): AsyncIterable<string>;
  /** Kills the containers (SIGTERM, SIGKILL after `graceSeconds`, default the pod's terminationGracePeriodSeconds or 30) and stops the sandbox. Statuses and logs stay. */
  stop(graceSeconds?: number): Promise<void>;
  /** stop(), then removes the sandbox, its containers, volumes and logs. */
  remove(graceSeconds?: number): Promise<void>;
}
