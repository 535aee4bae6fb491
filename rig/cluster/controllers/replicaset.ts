// apps/v1 ReplicaSet: as many pods as spec.replicas, newest deleted first when scaling down.
import type { Store } from '../api/store.ts';
import type { KubeObject } from '../api/types.ts';
import { createPodFromTemplate, isPodReady, isPodTerminal, ownedObjects, writeStatus } from './util.ts';

export const reconcileReplicaSet = (store: Store, replicaSet: KubeObject): void => {
  const pods = ownedObjects(store, 'pods', replicaSet).filter((pod) => !pod.metadata.deletionTimestamp);
  // Failed pods are replaced: kubelet would restart their containers; ours leaves them terminal.
  for (const pod of pods.filter(isPodTerminal))
    store.delete('pods', pod.metadata.namespace, pod.metadata.name ?? '');
  const live = pods.filter((pod) => !isPodTerminal(pod));
  const wanted = replicaSet.spec?.replicas ?? 1;
  const created: KubeObject[] = [];
  for (let index = live.length; index < wanted; index += 1) {
    created.push(createPodFromTemplate(store, replicaSet, replicaSet.metadata.name ?? 'rs'));
  }
  const excess = live
    .sort((a, b) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''))
    .slice(0, Math.max(0, live.length - wanted));
  for (const pod of excess) store.delete('pods', pod.metadata.namespace, pod.metadata.name ?? '');
  const kept = [...live.filter((pod) => !excess.includes(pod)), ...created];
  const ready = kept.filter(isPodReady).length;
  writeStatus(store, 'replicasets', replicaSet, {
    replicas: kept.length,
    fullyLabeledReplicas: kept.length,
    readyReplicas: ready,
    availableReplicas: ready,
    observedGeneration: replicaSet.metadata.generation,
  });
};
