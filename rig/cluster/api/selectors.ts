// labelSelector and fieldSelector query parameters, parsed the way apimachinery's labels/fields packages read
// them: comma-separated requirements, all of which must hold.
import { ApiError } from './status.ts';
import type { KubeObject } from './types.ts';

type Predicate = (object: KubeObject) => boolean;

const SET_REQUIREMENT = /^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$/;
const EQUALITY = /^\s*(!?)([\w./-]+)\s*(?:(==|=|!=)\s*([\w.-]*))?\s*$/;

// Commas inside `in (a,b)` do not separate requirements.
const splitRequirements = (selector: string): string[] => {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of selector) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (char === ',' && depth === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    current += char;
  }
  if (current.trim()) parts.push(current);
  return parts;
};

const labelRequirement = (text: string): ((labels: Record<string, string>) => boolean) => {
  const set = SET_REQUIREMENT.exec(text);
  if (set) {
    const [, key = '', operator, values = ''] = set;
    const allowed = new Set(values.split(',').map((value) => value.trim()));
    return (labels) => (operator === 'in') === (key in labels && allowed.has(labels[key] ?? ''));
  }
  const equality = EQUALITY.exec(text);
  if (!equality) throw new ApiError('BadRequest', `unable to parse requirement: ${text.trim()}`);
  const [, not, key = '', operator, value = ''] = equality;
  if (!operator) return not ? (labels) => !(key in labels) : (labels) => key in labels;
  if (operator === '!=') return (labels) => labels[key] !== value;
  return (labels) => labels[key] === value;
};

export const labelSelectorPredicate = (selector: string | null): Predicate => {
  if (!selector?.trim()) return () => true;
  const requirements = splitRequirements(selector).map(labelRequirement);
  return (object) => {
    const labels = object.metadata.labels ?? {};
    return requirements.every((requirement) => requirement(labels));
  };
};

/** Labels of a metav1.LabelSelector (matchLabels + matchExpressions) as a predicate on label maps. */
export const matchesLabelSelector = (
  selector: { matchLabels?: Record<string, string>; matchExpressions?: LabelExpression[] } | undefined,
  labels: Record<string, string> = {},
): boolean => {
  if (!selector) return false;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every((expression) => matchesExpression(expression, labels));
};

export interface LabelExpression {
  key: string;
  operator: string;
  values?: string[];
}

export const matchesExpression = (expression: LabelExpression, labels: Record<string, string>): boolean => {
  const present = expression.key in labels;
  const value = labels[expression.key] ?? '';
  const values = expression.values ?? [];
  switch (expression.operator) {
    case 'In':
      return present && values.includes(value);
    case 'NotIn':
      return !present || !values.includes(value);
    case 'Exists':
      return present;
    case 'DoesNotExist':
      return !present;
    case 'Gt':
      return present && Number(value) > Number(values[0]);
    case 'Lt':
      return present && Number(value) < Number(values[0]);
    default:
      return false;
  }
};

const fieldValue = (object: KubeObject, path: string): string => {
  let value: unknown = object;
  for (const part of path.split('.')) {
    value = value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  }
  return value === undefined || value === null ? '' : String(value);
};

const SUPPORTED_FIELDS = new Set([
  'metadata.name',
  'metadata.namespace',
  'spec.nodeName',
  'status.phase',
  'involvedObject.name',
  'involvedObject.kind',
  'involvedObject.namespace',
  'involvedObject.uid',
  'type',
  'spec.unschedulable',
]);

export const fieldSelectorPredicate = (selector: string | null): Predicate => {
  if (!selector?.trim()) return () => true;
  const requirements = splitRequirements(selector).map((text) => {
    const match = /^\s*([\w.]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(text);
    if (!match) throw new ApiError('BadRequest', `invalid field selector: ${text.trim()}`);
    const [, field = '', operator, value = ''] = match;
    if (!SUPPORTED_FIELDS.has(field)) {
      throw new ApiError('BadRequest', `field label not supported: ${field}`);
    }
    return (object: KubeObject) => (fieldValue(object, field) === value) === (operator !== '!=');
  });
  return (object) => requirements.every((requirement) => requirement(object));
};
