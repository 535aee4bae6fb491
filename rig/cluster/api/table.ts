// meta.k8s.io/v1 Table responses for `kubectl get`: the columns the real server prints for the kinds people
// look at (nodes, pods, jobs, deployments), Name and Age for the rest.
import type { KubeObject } from './types.ts';

type Column = [name: string, priority: number, cell: (object: KubeObject) => string | number];

const age = (object: KubeObject): string => {
  const seconds = Math.max(
    0,
    Math.floor((Date.now() - Date.parse(object.metadata.creationTimestamp ?? '')) / 1000),
  );
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours}h` : `${Math.floor(hours / 24)}d`;
};

const NAME: Column = ['Name', 0, (object) => object.metadata.name ?? ''];
const AGE: Column = ['Age', 0, age];

const nodeStatus = (object: KubeObject): string => {
  const ready = (object.status?.conditions ?? []).find(
    (condition: { type: string }) => condition.type === 'Ready',
  );
  const status = ready?.status === 'True' ? 'Ready' : 'NotReady';
  return object.spec?.unschedulable ? `${status},SchedulingDisabled` : status;
};

const podReady = (object: KubeObject): string => {
  const statuses: { ready?: boolean }[] = object.status?.containerStatuses ?? [];
  const total = object.spec?.containers?.length ?? 0;
  return `${statuses.filter((status) => status.ready).length}/${total}`;
};

// kubectl's STATUS column: a waiting or terminated container's reason wins over the phase.
const podStatus = (object: KubeObject): string => {
  if (object.metadata.deletionTimestamp) return 'Terminating';
  let reason: string | undefined;
  for (const status of (object.status?.containerStatuses ?? []) as {
    state?: Record<string, { reason?: string }>;
  }[]) {
    reason = status.state?.waiting?.reason ?? status.state?.terminated?.reason ?? reason;
  }
  return reason ?? object.status?.reason ?? object.status?.phase ?? 'Unknown';
};

const restarts = (object: KubeObject): number =>
  ((object.status?.containerStatuses ?? []) as { restartCount?: number }[]).reduce(
    (sum, status) => sum + (status.restartCount ?? 0),
    0,
  );

const jobStatus = (object: KubeObject): string => {
  const conditions: { type: string; status: string }[] = object.status?.conditions ?? [];
  const holds = (type: string) =>
    conditions.some((condition) => condition.type === type && condition.status === 'True');
  if (holds('Complete')) return 'Complete';
  if (holds('Failed')) return 'Failed';
  return 'Running';
};

const COLUMNS: Record<string, Column[]> = {
  Node: [
    NAME,
    ['Status', 0, nodeStatus],
    ['Roles', 0, () => '<none>'],
    AGE,
    ['Version', 0, (object) => object.status?.nodeInfo?.kubeletVersion ?? ''],
    ['Internal-IP', 1, (object) => object.status?.addresses?.[0]?.address ?? '<none>'],
    ['External-IP', 1, () => '<none>'],
    ['OS-Image', 1, (object) => object.status?.nodeInfo?.osImage ?? ''],
    ['Kernel-Version', 1, (object) => object.status?.nodeInfo?.kernelVersion ?? ''],
    ['Container-Runtime', 1, (object) => object.status?.nodeInfo?.containerRuntimeVersion ?? ''],
  ],
  Pod: [
    NAME,
    ['Ready', 0, podReady],
    ['Status', 0, podStatus],
    ['Restarts', 0, restarts],
    AGE,
    ['IP', 1, (object) => object.status?.podIP ?? '<none>'],
    ['Node', 1, (object) => object.spec?.nodeName ?? '<none>'],
  ],
  Job: [
    NAME,
    ['Status', 0, jobStatus],
    ['Completions', 0, (object) => `${object.status?.succeeded ?? 0}/${object.spec?.completions ?? 1}`],
    AGE,
  ],
  Deployment: [
    NAME,
    ['Ready', 0, (object) => `${object.status?.readyReplicas ?? 0}/${object.spec?.replicas ?? 0}`],
    ['Up-to-date', 0, (object) => object.status?.updatedReplicas ?? 0],
    ['Available', 0, (object) => object.status?.availableReplicas ?? 0],
    AGE,
  ],
  DaemonSet: [
    NAME,
    ['Desired', 0, (object) => object.status?.desiredNumberScheduled ?? 0],
    ['Current', 0, (object) => object.status?.currentNumberScheduled ?? 0],
    ['Ready', 0, (object) => object.status?.numberReady ?? 0],
    AGE,
  ],
};

export const wantsTable = (accept: string | undefined): boolean => Boolean(accept?.includes('as=Table'));

export const toTable = (kind: string, objects: KubeObject[], resourceVersion: string) => {
  const columns = COLUMNS[kind] ?? [NAME, AGE];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: columns.map(([name, priority]) => ({
      name,
      type: name === 'Restarts' ? 'integer' : 'string',
      format: name === 'Name' ? 'name' : '',
      description: '',
      priority,
    })),
    rows: objects.map((object) => ({ cells: columns.map(([, , cell]) => cell(object)), object })),
  };
};
