// apps/v1 Deployment: one ReplicaSet per pod template (named by the template's hash), the current one scaled
// to spec.replicas and the old ones to 0 at once (no surge/unavailability budget), revisions counted in the
// deployment.kubernetes.io/revision annotation, and the status fields Helm 3's wait and kstatus read.
import { createHash } from 'node:crypto';
import type { Store } from '../api/store.ts';
import type { KubeObject } from '../api/types.ts';
import { type Condition, controllerReference, ownedObjects, setCondition, writeStatus } from './util.ts';

const REVISION = 'deployment.kubernetes.io/revision';

const templateHash = (template: unknown): string =>
  Number.parseInt(createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 8), 16)
    .toString(36)
    .slice(0, 10);

const ensureReplicaSet = (store: Store, deployment: KubeObject, owned: KubeObject[]): KubeObject => {
  const hash = templateHash(deployment.spec.template);
  const name = `${deployment.metadata.name}-${hash}`;
  const revision = Math.max(0, ...owned.map((rs) => Number(rs.metadata.annotations?.[REVISION] ?? 0))) + 1;
  const existing = owned.find((rs) => rs.metadata.name === name);
  const replicas = deployment.spec.replicas ?? 1;
  if (existing) {
    if (existing.spec.replicas === replicas) return existing;
    const current = Number(existing.metadata.annotations?.[REVISION] ?? 0);
    const annotations = {
      ...existing.metadata.annotations,
      [REVISION]: String(current === revision - 1 ? current : revision),
    };
    return store.update('replicasets', {
      ...existing,
      metadata: { ...existing.metadata, annotations },
      spec: { ...existing.spec, replicas },
    });
  }
  const template = structuredClone(deployment.spec.template);
  template.metadata = {
    ...template.metadata,
    labels: { ...template.metadata?.labels, 'pod-template-hash': hash },
  };
  const selector = structuredClone(deployment.spec.selector);
  selector.matchLabels = { ...selector.matchLabels, 'pod-template-hash': hash };
  return store.create('replicasets', {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name,
      namespace: deployment.metadata.namespace,
      labels: template.metadata.labels,
      annotations: {
        [REVISION]: String(revision),
        'deployment.kubernetes.io/desired-replicas': String(replicas),
      },
      ownerReferences: [controllerReference(deployment)],
    },
    spec: { replicas, minReadySeconds: deployment.spec.minReadySeconds ?? 0, selector, template },
    status: { replicas: 0 },
  });
};

const deploymentStatus = (deployment: KubeObject, current: KubeObject, all: KubeObject[]) => {
  const replicas = deployment.spec.replicas ?? 1;
  const sum = (field: string) => all.reduce((total, rs) => total + (rs.status?.[field] ?? 0), 0);
  const available = sum('availableReplicas');
  const updated = current.status?.replicas ?? 0;
  const complete = updated === replicas && sum('replicas') === replicas && available === replicas;
  let conditions: Condition[] = deployment.status?.conditions ?? [];
  conditions = setCondition(conditions, {
    type: 'Available',
    status: available >= replicas ? 'True' : 'False',
    reason: available >= replicas ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
    message:
      available >= replicas
        ? 'Deployment has minimum availability.'
        : 'Deployment does not have minimum availability.',
  });
  conditions = setCondition(conditions, {
    type: 'Progressing',
    status: 'True',
    reason: complete ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated',
    message: complete
      ? `ReplicaSet "${current.metadata.name}" has successfully progressed.`
      : `ReplicaSet "${current.metadata.name}" is progressing.`,
  });
  return {
    observedGeneration: deployment.metadata.generation,
    replicas: sum('replicas'),
    updatedReplicas: updated,
    readyReplicas: sum('readyReplicas'),
    availableReplicas: available,
    ...(sum('replicas') - available > 0 ? { unavailableReplicas: sum('replicas') - available } : {}),
    conditions: conditions.sort((a, b) => (a.type === 'Available' ? -1 : b.type === 'Available' ? 1 : 0)),
  };
};

export const reconcileDeployment = (store: Store, deployment: KubeObject): void => {
  const owned = ownedObjects(store, 'replicasets', deployment);
  const current = ensureReplicaSet(store, deployment, owned);
  const old = owned.filter((rs) => rs.metadata.uid !== current.metadata.uid);
  for (const rs of old.filter((candidate) => candidate.spec.replicas !== 0)) {
    store.update('replicasets', { ...rs, spec: { ...rs.spec, replicas: 0 } });
  }
  const limit = deployment.spec.revisionHistoryLimit ?? 10;
  const byRevision = old.sort(
    (a, b) =>
      Number(a.metadata.annotations?.[REVISION] ?? 0) - Number(b.metadata.annotations?.[REVISION] ?? 0),
  );
  for (const rs of byRevision.slice(0, Math.max(0, byRevision.length - limit))) {
    if ((rs.status?.replicas ?? 0) === 0)
      store.delete('replicasets', rs.metadata.namespace, rs.metadata.name ?? '');
  }
  const revision = current.metadata.annotations?.[REVISION];
  if (revision && deployment.metadata.annotations?.[REVISION] !== revision) {
    const annotations = { ...deployment.metadata.annotations, [REVISION]: revision };
    deployment = store.update('deployments', {
      ...deployment,
      metadata: { ...deployment.metadata, annotations },
    });
  }
  const fresh = store.get('replicasets', current.metadata.namespace, current.metadata.name ?? '') ?? current;
  const all = ownedObjects(store, 'replicasets', deployment);
  writeStatus(store, 'deployments', deployment, deploymentStatus(deployment, fresh, all));
};
