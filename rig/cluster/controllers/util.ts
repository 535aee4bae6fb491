// What several controllers share: owner references, conditions that keep their transition time, status writes
// that happen only when something changed, and pods made from a template.
import { randomBytes } from 'node:crypto';
import { admitPod } from '../api/admission.ts';
import { applyDefaults } from '../api/defaults.ts';
import type { Store } from '../api/store.ts';
import { type KubeObject, nowTimestamp, type OwnerReference } from '../api/types.ts';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastProbeTime?: string | null;
  lastUpdateTime?: string;
  lastHeartbeatTime?: string;
}

export const controllerReference = (owner: KubeObject): OwnerReference => ({
  apiVersion: owner.apiVersion,
  kind: owner.kind,
  name: owner.metadata.name ?? '',
  uid: owner.metadata.uid ?? '',
  controller: true,
  blockOwnerDeletion: true,
});

export const isOwnedBy = (object: KubeObject, owner: KubeObject): boolean =>
  Boolean(object.metadata.ownerReferences?.some((reference) => reference.uid === owner.metadata.uid));

export const ownedObjects = (store: Store, resource: string, owner: KubeObject): KubeObject[] =>
  store.list(resource, owner.metadata.namespace).filter((object) => isOwnedBy(object, owner));

/** Sets a condition, keeping lastTransitionTime while the status stays the same. */
export const setCondition = (conditions: Condition[] = [], next: Condition): Condition[] => {
  const now = nowTimestamp();
  const existing = conditions.find((condition) => condition.type === next.type);
  const transition = existing && existing.status === next.status ? existing.lastTransitionTime : now;
  const merged: Condition = { ...existing, ...next, lastTransitionTime: transition };
  if (existing?.lastUpdateTime !== undefined || next.type === 'Progressing' || next.type === 'Available') {
    merged.lastUpdateTime =
      existing && existing.status === next.status && existing.reason === next.reason
        ? existing.lastUpdateTime
        : now;
  }
  return [...conditions.filter((condition) => condition.type !== next.type), merged];
};

export const conditionHolds = (object: KubeObject, type: string): boolean =>
  ((object.status?.conditions ?? []) as Condition[]).some(
    (condition) => condition.type === type && condition.status === 'True',
  );

/** Writes `status` to the status subresource when it differs from what is stored. */
export const writeStatus = (store: Store, resource: string, object: KubeObject, status: unknown): void => {
  if (JSON.stringify(object.status) === JSON.stringify(status)) return;
  const current = store.get(resource, object.metadata.namespace, object.metadata.name ?? '');
  if (!current || current.metadata.uid !== object.metadata.uid) return;
  store.update(resource, { ...current, status });
};

const suffix = (): string => {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...randomBytes(5)].map((byte) => alphabet[byte % alphabet.length]).join('');
};

/** A pod from a controller's template, owned by the controller, named like the real controllers name them. */
export const createPodFromTemplate = (
  store: Store,
  owner: KubeObject,
  prefix: string,
  extra: { labels?: Record<string, string>; spec?: Record<string, unknown> } = {},
): KubeObject => {
  const template = structuredClone(owner.spec.template ?? {});
  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...template.metadata,
      name: `${prefix}-${suffix()}`,
      namespace: owner.metadata.namespace,
      labels: { ...template.metadata?.labels, ...extra.labels },
      ownerReferences: [controllerReference(owner)],
    },
    spec: { ...template.spec, ...extra.spec },
  };
  applyDefaults(pod);
  admitPod(store, pod);
  return store.create('pods', pod);
};

export const isPodTerminal = (pod: KubeObject): boolean =>
  pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

export const isPodReady = (pod: KubeObject): boolean => conditionHolds(pod, 'Ready');
