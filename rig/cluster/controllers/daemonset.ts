// apps/v1 DaemonSet: one pod per node that fits (Ready, selector, affinity, taints), nodes added later
// included. Like the real controller, the pod is pinned with required node affinity on metadata.name and the
// scheduler binds it; pods of an outdated template are replaced at once.
import { createHash } from 'node:crypto';
import type { Store } from '../api/store.ts';
import type { KubeObject } from '../api/types.ts';
import { podFitsNode } from './placement.ts';
import { createPodFromTemplate, isPodReady, isPodTerminal, ownedObjects, writeStatus } from './util.ts';

const HASH_LABEL = 'controller-revision-hash';

// What the controller adds to every daemon pod, as in pkg/controller/daemon/util.
const DAEMON_TOLERATIONS = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
];

const pinnedNode = (pod: KubeObject): string | undefined =>
  pod.spec?.nodeName ??
  pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms?.[0]
    ?.matchFields?.[0]?.values?.[0];

const daemonPodSpec = (daemonSet: KubeObject, node: string) => ({
  ...daemonSet.spec.template.spec,
  tolerations: [...(daemonSet.spec.template.spec?.tolerations ?? []), ...DAEMON_TOLERATIONS],
  affinity: {
    ...daemonSet.spec.template.spec?.affinity,
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }],
      },
    },
  },
});

export const reconcileDaemonSet = (store: Store, daemonSet: KubeObject): void => {
  const hash = createHash('sha256')
    .update(JSON.stringify(daemonSet.spec.template))
    .digest('hex')
    .slice(0, 10);
  const nodes = store.list('nodes');
  const wanted = nodes.filter((node) =>
    podFitsNode(
      {
        ...daemonSet.spec.template.spec,
        tolerations: [...(daemonSet.spec.template.spec?.tolerations ?? []), ...DAEMON_TOLERATIONS],
      },
      node,
    ),
  );
  const wantedNames = new Set(wanted.map((node) => node.metadata.name ?? ''));
  const pods = ownedObjects(store, 'pods', daemonSet);
  for (const pod of pods) {
    const stale = pod.metadata.labels?.[HASH_LABEL] !== hash || isPodTerminal(pod);
    const node = pinnedNode(pod) ?? '';
    // Pods on nodes that stopped fitting stay: the real controller leaves a NotReady node's pod alone too.
    if (stale || !nodes.some((candidate) => candidate.metadata.name === node)) {
      store.delete('pods', pod.metadata.namespace, pod.metadata.name ?? '');
    }
  }
  const kept = ownedObjects(store, 'pods', daemonSet);
  for (const node of wantedNames) {
    if (kept.some((pod) => pinnedNode(pod) === node)) continue;
    kept.push(
      createPodFromTemplate(store, daemonSet, daemonSet.metadata.name ?? 'ds', {
        labels: { [HASH_LABEL]: hash, 'pod-template-generation': String(daemonSet.metadata.generation ?? 1) },
        spec: daemonPodSpec(daemonSet, node),
      }),
    );
  }
  const onWanted = kept.filter((pod) => wantedNames.has(pinnedNode(pod) ?? ''));
  const ready = onWanted.filter(isPodReady).length;
  writeStatus(store, 'daemonsets', daemonSet, {
    observedGeneration: daemonSet.metadata.generation,
    desiredNumberScheduled: wantedNames.size,
    currentNumberScheduled: onWanted.length,
    updatedNumberScheduled: onWanted.length,
    numberMisscheduled: kept.length - onWanted.length,
    numberReady: ready,
    numberAvailable: ready,
    ...(wantedNames.size - ready > 0 ? { numberUnavailable: wantedNames.size - ready } : {}),
  });
};
