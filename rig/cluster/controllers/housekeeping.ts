// The small controllers: node lifecycle (Ready=Unknown and unreachable taints once heartbeats stop), the
// namespace controller (empties a Terminating namespace, then removes it), the default ServiceAccount of every
// namespace, and the garbage collector (dependents whose owners are gone).
import { ROOT_CA_CONFIG_MAP } from '../api/admission.ts';
import { RESOURCE_TYPES } from '../api/resources.ts';
import type { Store } from '../api/store.ts';
import { type KubeObject, nowTimestamp } from '../api/types.ts';
import { type Condition, setCondition, writeStatus } from './util.ts';

/** Seconds without a heartbeat before a node goes Unknown (the real default is 40 s; ours is short for tests). */
export const NODE_GRACE_SECONDS = 4;

const UNREACHABLE_TAINTS = [
  { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' },
];

const withTaints = (store: Store, node: KubeObject, unreachable: boolean): KubeObject => {
  const others = ((node.spec?.taints ?? []) as { key: string }[]).filter(
    (taint) => taint.key !== 'node.kubernetes.io/unreachable',
  );
  const taints = unreachable
    ? [
        ...others,
        ...UNREACHABLE_TAINTS.map((taint) => ({
          ...taint,
          timeAdded: nowTimestamp(),
        })),
      ]
    : others;
  const current = (node.spec?.taints ?? []) as { key: string }[];
  const had = current.some((taint) => taint.key === 'node.kubernetes.io/unreachable');
  if (had === unreachable) return node;
  const spec = { ...node.spec, taints: taints.length ? taints : undefined };
  return store.update('nodes', { ...node, spec });
};

export const watchNodeHeartbeats = (store: Store): void => {
  for (const node of store.list('nodes')) {
    const conditions: Condition[] = node.status?.conditions ?? [];
    const ready = conditions.find((condition) => condition.type === 'Ready');
    const beat = Date.parse(ready?.lastHeartbeatTime ?? '');
    const silent = !Number.isFinite(beat) || Date.now() - beat > NODE_GRACE_SECONDS * 1000;
    const updated = withTaints(store, node, silent);
    if (!silent || ready?.status === 'Unknown') continue;
    let next = conditions;
    for (const type of ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure']) {
      const previous = conditions.find((condition) => condition.type === type);
      next = setCondition(next, {
        type,
        status: 'Unknown',
        reason: 'NodeStatusUnknown',
        message: 'Kubelet stopped posting node status.',
        lastHeartbeatTime: previous?.lastHeartbeatTime ?? ready?.lastHeartbeatTime,
      });
    }
    writeStatus(store, 'nodes', updated, { ...updated.status, conditions: next });
  }
};

export const finishNamespaces = (store: Store): void => {
  for (const namespace of store.list('namespaces')) {
    if (!namespace.metadata.deletionTimestamp) continue;
    const name = namespace.metadata.name;
    for (const type of RESOURCE_TYPES.filter((candidate) => candidate.namespaced)) {
      for (const object of store.list(type.resource, name)) {
        store.delete(type.resource, name, object.metadata.name ?? '');
      }
    }
    store.delete('namespaces', undefined, name ?? '');
  }
};

export const ensureDefaultServiceAccounts = (store: Store): void => {
  for (const namespace of store.list('namespaces')) {
    const name = namespace.metadata.name ?? '';
    if (namespace.metadata.deletionTimestamp || store.get('serviceaccounts', name, 'default')) continue;
    store.create('serviceaccounts', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'default', namespace: name },
    });
  }
};

/** The root CA publisher: every namespace gets kube-root-ca.crt, which the token volume's ca.crt comes from. */
export const publishRootCa = (store: Store, caPem: string): void => {
  for (const namespace of store.list('namespaces')) {
    const name = namespace.metadata.name ?? '';
    if (namespace.metadata.deletionTimestamp || store.get('configmaps', name, ROOT_CA_CONFIG_MAP)) continue;
    store.create('configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: ROOT_CA_CONFIG_MAP,
        namespace: name,
        annotations: {
          'kubernetes.io/description':
            'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.',
        },
      },
      data: { 'ca.crt': caPem },
    });
  }
};

export const collectGarbage = (store: Store): void => {
  const uids = new Set<string>();
  const all = RESOURCE_TYPES.map((type) => ({ type, objects: store.list(type.resource) }));
  for (const { objects } of all) for (const object of objects) uids.add(object.metadata.uid ?? '');
  for (const { type, objects } of all) {
    for (const object of objects) {
      const owners = object.metadata.ownerReferences ?? [];
      if (owners.length === 0 || owners.some((owner) => uids.has(owner.uid))) continue;
      if (store.get(type.resource, object.metadata.namespace, object.metadata.name ?? '')) {
        store.delete(type.resource, object.metadata.namespace, object.metadata.name ?? '');
      }
    }
  }
};
