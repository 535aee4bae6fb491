// The pod status kubelet reports (pkg/kubelet/kubelet_pods.go: getPhase, generateAPIPodStatus) computed from
// the runner's container records and the CRI's container statuses.
import type { IContainerState } from 'kubernetes-models/v1/ContainerState';
import type { IContainerStatus } from 'kubernetes-models/v1/ContainerStatus';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { IPodCondition } from 'kubernetes-models/v1/PodCondition';
import type { IPodStatus } from 'kubernetes-models/v1/PodStatus';
import type { ContainerStatus } from '../cri-types.ts';
import { type ContainerRecord, displayImage, exited, shouldRestart, succeeded } from './containers.ts';

/** RFC 3339 at second precision, as the API serves times, from CRI nanoseconds. */
export const criTime = (nanoseconds: string | undefined): string | undefined => {
  if (!nanoseconds || nanoseconds === '0') return undefined;
  return rfc3339(new Date(Number(BigInt(nanoseconds) / 1_000_000n)));
};

export const rfc3339 = (date: Date): string => date.toISOString().replace(/\.\d+Z$/, 'Z');

const terminated = (status: ContainerStatus): IContainerState => ({
  terminated: {
    exitCode: status.exitCode,
    reason: status.reason || undefined,
    message: status.message || undefined,
    startedAt: criTime(status.startedAt),
    finishedAt: criTime(status.finishedAt),
    containerID: `containerd://${status.id}`,
  },
});

const state = (record: ContainerRecord, defaultWaiting: string): IContainerState => {
  const { status, waiting } = record;
  if (waiting) return { waiting: { reason: waiting.reason, message: waiting.message } };
  if (!status) return { waiting: { reason: defaultWaiting } };
  if (status.state === 'CONTAINER_RUNNING') return { running: { startedAt: criTime(status.startedAt) } };
  if (status.state === 'CONTAINER_EXITED') return terminated(status);
  if (status.state === 'CONTAINER_CREATED') return { waiting: { reason: 'ContainerCreating' } };
  return { waiting: { reason: 'ContainerStatusUnknown' } };
};

export const containerStatus = (record: ContainerRecord, defaultWaiting: string): IContainerStatus => {
  const current = state(record, defaultWaiting);
  const running = current.running !== undefined;
  return {
    name: record.spec.name,
    state: current,
    lastState: record.previous ? terminated(record.previous) : {},
    ready: running,
    restartCount: record.restartCount,
    image: displayImage(record.spec.image ?? ''),
    imageID: record.status?.imageRef ?? record.previous?.imageRef ?? '',
    ...(record.status ? { containerID: `containerd://${record.status.id}` } : {}),
    started: running,
  };
};

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

/** kubelet's getPhase for a pod whose init containers are done; restart decisions use the records. */
export const podPhase = (
  inits: ContainerRecord[],
  containers: ContainerRecord[],
  policy: string,
): PodPhase => {
  if (inits.some((record) => exited(record) && !succeeded(record) && !shouldRestart(record, policy)))
    return 'Failed';
  if (!inits.every(succeeded)) return 'Pending';
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let done = 0;
  for (const record of containers) {
    if (record.status?.state === 'CONTAINER_RUNNING' && !record.waiting) running++;
    else if (exited(record) || record.previous) {
      stopped++;
      if (succeeded(record)) done++;
    } else waiting++;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (policy === 'Always') return 'Running';
  if (stopped === done) return 'Succeeded';
  if (policy === 'Never') return 'Failed';
  return 'Running';
};

const condition = (type: string, ok: boolean, reason?: string, message?: string): IPodCondition => ({
  type,
  status: ok ? 'True' : 'False',
  ...(ok ? {} : { reason, message }),
});

const names = (records: ContainerRecord[]) => `[${records.map((record) => record.spec.name).join(' ')}]`;

export interface StatusInput {
  pod: IPod;
  inits: ContainerRecord[];
  containers: ContainerRecord[];
  sandboxReady: boolean;
  startTime: Date;
  hostIP: string;
}

/** The pod's status without lastTransitionTime (the runner keeps those across syncs). */
export const podStatus = (input: StatusInput): IPodStatus => {
  const { pod, inits, containers } = input;
  const policy = pod.spec?.restartPolicy ?? 'Always';
  const phase = podPhase(inits, containers, policy);
  const completed = phase === 'Succeeded' || phase === 'Failed';
  const initsDone = inits.every(succeeded);
  const unready = containers.filter((record) => containerStatus(record, '').ready !== true);
  const readyReason = completed ? 'PodCompleted' : 'ContainersNotReady';
  const readyMessage = completed ? undefined : `containers with unready status: ${names(unready)}`;
  return {
    phase,
    conditions: [
      condition('PodReadyToStartContainers', input.sandboxReady),
      condition(
        'Initialized',
        initsDone,
        'ContainersNotInitialized',
        `containers with incomplete status: ${names(inits.filter((record) => !succeeded(record)))}`,
      ),
      condition('Ready', unready.length === 0 && !completed, readyReason, readyMessage),
      condition('ContainersReady', unready.length === 0 && !completed, readyReason, readyMessage),
      condition('PodScheduled', true),
    ],
    hostIP: input.hostIP,
    hostIPs: [{ ip: input.hostIP }],
    podIP: input.hostIP,
    podIPs: [{ ip: input.hostIP }],
    startTime: rfc3339(input.startTime),
    ...(inits.length > 0
      ? { initContainerStatuses: inits.map((record) => containerStatus(record, 'PodInitializing')) }
      : {}),
    containerStatuses: containers.map((record) =>
      containerStatus(record, initsDone ? 'ContainerCreating' : 'PodInitializing'),
    ),
    qosClass: qosClass(pod),
  };
};

const qosClass = (pod: IPod): 'BestEffort' | 'Burstable' | 'Guaranteed' => {
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  const resources = all.map((container) => container.resources ?? {});
  if (resources.every((r) => !Object.keys(r.requests ?? {}).length && !Object.keys(r.limits ?? {}).length))
    return 'BestEffort';
  const guaranteed = resources.every(
    (r) =>
      ['cpu', 'memory'].every((name) => r.limits?.[name] !== undefined) &&
      Object.entries(r.requests ?? {}).every(([name, value]) => String(r.limits?.[name]) === String(value)),
  );
  return guaranteed ? 'Guaranteed' : 'Burstable';
};
