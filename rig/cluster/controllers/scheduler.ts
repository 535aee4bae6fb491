// Binds pods without spec.nodeName to the fitting node that runs the fewest pods; pods that fit nowhere get
// PodScheduled=False/Unschedulable with the real scheduler's message shape, and are retried on every pass.
import type { Store } from '../api/store.ts';
import type { KubeObject } from '../api/types.ts';
import { podFitsNode } from './placement.ts';
import { setCondition, writeStatus } from './util.ts';

export const schedulePods = (store: Store): void => {
  const pending = store.list('pods').filter((pod) => !pod.spec?.nodeName && pod.status?.phase === 'Pending');
  if (pending.length === 0) return;
  const nodes = store.list('nodes');
  const load = new Map(nodes.map((node) => [node.metadata.name ?? '', 0]));
  for (const pod of store.list('pods')) {
    if (pod.spec?.nodeName) load.set(pod.spec.nodeName, (load.get(pod.spec.nodeName) ?? 0) + 1);
  }
  for (const pod of pending) {
    if (pod.metadata.deletionTimestamp) continue;
    const fitting = nodes.filter((node) => podFitsNode(pod.spec, node));
    const chosen = fitting.sort(
      (a, b) => (load.get(a.metadata.name ?? '') ?? 0) - (load.get(b.metadata.name ?? '') ?? 0),
    )[0];
    if (!chosen) {
      markUnschedulable(store, pod, nodes.length);
      continue;
    }
    const name = chosen.metadata.name ?? '';
    load.set(name, (load.get(name) ?? 0) + 1);
    const conditions = setCondition(pod.status?.conditions, { type: 'PodScheduled', status: 'True' });
    const bound = store.update('pods', { ...pod, spec: { ...pod.spec, nodeName: name } });
    writeStatus(store, 'pods', bound, { ...bound.status, conditions });
  }
};

const markUnschedulable = (store: Store, pod: KubeObject, nodeCount: number): void => {
  const conditions = setCondition(pod.status?.conditions, {
    type: 'PodScheduled',
    status: 'False',
    reason: 'Unschedulable',
    message: `0/${nodeCount} nodes are available: ${nodeCount} node(s) didn't match Pod's node affinity/selector or were not ready.`,
  });
  writeStatus(store, 'pods', pod, { ...pod.status, conditions });
};
