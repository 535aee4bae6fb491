// Whether a pod may go to a node, as the scheduler's predicates decide it: the node is Ready and schedulable,
// nodeSelector and required node affinity (matchExpressions on labels, matchFields on metadata.name) match,
// and every NoSchedule/NoExecute taint is tolerated.
import { type LabelExpression, matchesExpression } from '../api/selectors.ts';
import type { KubeObject } from '../api/types.ts';
import { conditionHolds } from './util.ts';

interface Taint {
  key: string;
  value?: string;
  effect: string;
}

interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}

const tolerates = (toleration: Toleration, taint: Taint): boolean => {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.operator === 'Exists') return !toleration.key || toleration.key === taint.key;
  return toleration.key === taint.key && (toleration.value ?? '') === (taint.value ?? '');
};

const taintsTolerated = (podSpec: KubeObject['spec'], node: KubeObject): boolean => {
  const taints: Taint[] = node.spec?.taints ?? [];
  const tolerations: Toleration[] = podSpec?.tolerations ?? [];
  return taints
    .filter((taint) => taint.effect === 'NoSchedule' || taint.effect === 'NoExecute')
    .every((taint) => tolerations.some((toleration) => tolerates(toleration, taint)));
};

interface NodeSelectorTerm {
  matchExpressions?: LabelExpression[];
  matchFields?: LabelExpression[];
}

const termMatches = (term: NodeSelectorTerm, node: KubeObject): boolean => {
  const labels = node.metadata.labels ?? {};
  const fields = { 'metadata.name': node.metadata.name ?? '' };
  return (
    (term.matchExpressions ?? []).every((expression) => matchesExpression(expression, labels)) &&
    (term.matchFields ?? []).every((expression) => matchesExpression(expression, fields))
  );
};

export const nodeMatches = (podSpec: KubeObject['spec'], node: KubeObject): boolean => {
  const labels = node.metadata.labels ?? {};
  for (const [key, value] of Object.entries((podSpec?.nodeSelector ?? {}) as Record<string, string>)) {
    if (labels[key] !== value) return false;
  }
  const terms: NodeSelectorTerm[] =
    podSpec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  if (terms.length > 0 && !terms.some((term) => termMatches(term, node))) return false;
  return taintsTolerated(podSpec, node);
};

export const nodeReady = (node: KubeObject): boolean =>
  conditionHolds(node, 'Ready') && !node.spec?.unschedulable;

export const podFitsNode = (podSpec: KubeObject['spec'], node: KubeObject): boolean =>
  nodeReady(node) && nodeMatches(podSpec, node);
