// kubelet's pod worker for one pod on a CRI runtime: sandbox (host network), volumes, init containers in order,
// then the containers, restarts by policy, and the status kubelet would report after each sync.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { IPodStatus } from 'kubernetes-models/v1/PodStatus';
import { type CriClient, criClient, isNotFound } from '../cri.ts';
import type { PodSandboxConfig } from '../cri-types.ts';
import {
  type ContainerRecord,
  exited,
  launchContainer,
  newRecord,
  restartContainer,
  type SyncContext,
  shouldRestart,
  succeeded,
} from './containers.ts';
import { removeTree } from './node.ts';
import { podStatus, rfc3339 } from './status.ts';
import type { NodeContext, PodEvent, PodRunnerOptions } from './types.ts';
import { type PreparedVolume, podDirectory, setUpVolumes } from './volumes.ts';

/** kubelet's per-pod log directory: `/var/log/pods/<namespace>_<name>_<uid>` below the node's root. */
export const podLogDirectory = (node: NodeContext, pod: IPod): string => {
  const { name, namespace = 'default', uid } = pod.metadata ?? {};
  return join(node.root, 'var', 'log', 'pods', `${namespace}_${name}_${uid}`);
};

export const sandboxConfig = (pod: IPod, node: NodeContext): PodSandboxConfig => {
  const { name = '', namespace = 'default', uid = '' } = pod.metadata ?? {};
  const podContext = pod.spec?.securityContext;
  const privileged = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].some(
    (container) => container.securityContext?.privileged,
  );
  return {
    metadata: { name, uid, namespace, attempt: 0 },
    hostname: '',
    logDirectory: podLogDirectory(node, pod),
    labels: {
      ...pod.metadata?.labels,
      'io.kubernetes.pod.name': name,
      'io.kubernetes.pod.namespace': namespace,
      'io.kubernetes.pod.uid': uid,
    },
    annotations: { ...pod.metadata?.annotations, 'io.airlock.node': node.name },
    linux: {
      securityContext: {
        namespaceOptions: {
          network: 'NODE',
          pid: pod.spec?.hostPID ? 'NODE' : 'CONTAINER',
          ipc: pod.spec?.hostIPC ? 'NODE' : 'POD',
        },
        ...(podContext?.runAsUser === undefined ? {} : { runAsUser: { value: podContext.runAsUser } }),
        ...(podContext?.runAsGroup === undefined ? {} : { runAsGroup: { value: podContext.runAsGroup } }),
        privileged,
        seccomp: {
          profileType:
            podContext?.seccompProfile?.type === 'RuntimeDefault' ? 'RuntimeDefault' : 'Unconfined',
        },
      },
    },
  };
};

export class PodRunner {
  readonly pod: IPod;
  readonly cri: CriClient;
  readonly node: NodeContext;
  readonly inits: ContainerRecord[];
  readonly containers: ContainerRecord[];
  readonly events: PodEvent[] = [];
  sandboxId?: string;
  stopped = false;
  #volumes?: Map<string, PreparedVolume>;
  #startTime = new Date();
  #options: PodRunnerOptions;
  #status: IPodStatus;
  #transitions = new Map<string, { status: string; time: string }>();

  constructor(pod: IPod, options: PodRunnerOptions) {
    if (!pod.metadata?.name || !pod.metadata.uid)
      throw new Error('pod runner: the pod needs metadata.name and metadata.uid');
    this.pod = pod;
    this.#options = options;
    this.cri = criClient(options.address);
    this.node = options.node;
    this.inits = (pod.spec?.initContainers ?? []).map((spec) => newRecord(spec, true));
    this.containers = (pod.spec?.containers ?? []).map((spec) => newRecord(spec, false));
    this.#status = this.#compute();
  }

  get namespace(): string {
    return this.pod.metadata?.namespace ?? 'default';
  }

  get podDir(): string {
    return podDirectory(this.node, this.pod.metadata!.uid!);
  }

  status(): IPodStatus {
    return this.#status;
  }

  event(type: PodEvent['type'], reason: string, message: string): void {
    const now = rfc3339(new Date());
    const same = this.events.find((event) => event.reason === reason && event.message === message);
    if (same) {
      same.count += 1;
      same.lastTimestamp = now;
      return;
    }
    this.events.push({ type, reason, message, firstTimestamp: now, lastTimestamp: now, count: 1 });
  }

  /** One pass of kubelet's syncPod. Returns true when the status changed. */
  async sync(): Promise<boolean> {
    if (!this.stopped) await this.#advance();
    await this.#refresh();
    const before = JSON.stringify(this.#status);
    this.#status = this.#compute();
    if (!this.stopped && (this.#status.phase === 'Succeeded' || this.#status.phase === 'Failed'))
      await this.stop(0);
    return JSON.stringify(this.#status) !== before;
  }

  async #advance(): Promise<void> {
    if (!this.sandboxId) {
      const config = sandboxConfig(this.pod, this.node);
      await mkdir(config.logDirectory, { recursive: true });
      this.sandboxId = await this.cri.runPodSandbox(config);
    } else if (!(await this.#sandboxReady())) {
      // Stopped or removed behind our back (a node clean-up): kubelet would re-create it; this runner stops.
      this.event('Warning', 'SandboxChanged', 'Pod sandbox is gone or stopped; the pod is not restarted');
      this.stopped = true;
      return;
    }
    if (!this.#volumes) {
      try {
        this.#volumes = await setUpVolumes(
          { pod: this.pod, node: this.node, namespace: this.namespace },
          this.podDir,
        );
      } catch (error) {
        this.event('Warning', 'FailedMount', (error as Error).message);
        return;
      }
    }
    const ctx = this.#context();
    const policy = this.pod.spec?.restartPolicy ?? 'Always';
    for (const record of this.inits) {
      if (succeeded(record)) continue;
      if (!record.id) await launchContainer(ctx, record);
      else if (shouldRestart(record, policy)) await restartContainer(ctx, record);
      return;
    }
    for (const record of this.containers) {
      if (!record.id) await launchContainer(ctx, record);
      else if (shouldRestart(record, policy)) await restartContainer(ctx, record);
    }
  }

  #context(): SyncContext {
    return {
      pod: this.pod,
      node: this.node,
      namespace: this.namespace,
      volumes: this.#volumes ?? new Map(),
      cri: this.cri,
      sandboxId: this.sandboxId!,
      sandboxConfig: sandboxConfig(this.pod, this.node),
      backoff: this.#options.backoff ?? { initial: 10_000, max: 300_000 },
      event: (type, reason, message) => this.event(type, reason, message),
    };
  }

  async #sandboxReady(): Promise<boolean> {
    const status = await this.cri.podSandboxStatus(this.sandboxId!).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
    return status?.state === 'SANDBOX_READY';
  }

  async #refresh(): Promise<void> {
    for (const record of [...this.inits, ...this.containers]) {
      if (!record.id || exited(record)) continue;
      // A container removed with its sandbox keeps the last status read.
      const status = await this.cri.containerStatus(record.id).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
      if (status) record.status = status;
    }
  }

  #compute(): IPodStatus {
    const status = podStatus({
      pod: this.pod,
      inits: this.inits,
      containers: this.containers,
      sandboxReady: this.sandboxId !== undefined && !this.stopped,
      startTime: this.#startTime,
      hostIP: this.node.ip ?? '127.0.0.1',
    });
    for (const condition of status.conditions ?? []) {
      const known = this.#transitions.get(condition.type);
      if (!known || known.status !== condition.status) {
        this.#transitions.set(condition.type, { status: condition.status, time: rfc3339(new Date()) });
      }
      condition.lastTransitionTime = this.#transitions.get(condition.type)!.time;
    }
    return status;
  }

  /** Kills running containers with a grace period, then stops the sandbox; records keep their last status. */
  async stop(graceSeconds?: number): Promise<void> {
    this.stopped = true;
    const grace = graceSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30;
    const running = [...this.inits, ...this.containers].filter((record) => record.id && !exited(record));
    await Promise.all(
      running.map((record) => this.cri.stopContainer(record.id!, grace, { timeout: (grace + 30) * 1000 })),
    );
    if (this.sandboxId) await this.cri.stopPodSandbox(this.sandboxId);
    await this.#refresh();
    this.#status = this.#compute();
  }

  /** stop(), then RemovePodSandbox (which removes its containers), the pod's volumes and its logs. */
  async remove(graceSeconds?: number): Promise<void> {
    await this.stop(graceSeconds);
    if (this.sandboxId) await this.cri.removePodSandbox(this.sandboxId);
    await removeTree(this.podDir);
    await removeTree(podLogDirectory(this.node, this.pod));
  }
}
