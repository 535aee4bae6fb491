// Checks the real API server makes before it stores an object: names, kind/apiVersion against the URL, the
// fields each kind cannot do without, immutable fields, and unknown fields under fieldValidation=Strict.
import { apiVersionOf, type ResourceType } from './resources.ts';
import { ApiError, invalid } from './status.ts';
import type { KubeObject } from './types.ts';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

// Kinds whose names become DNS labels (host names, namespaces): apimachinery's ValidateNamespaceName & co.
const LABEL_NAMED = new Set(['Namespace', 'Service']);

type Cause = { field: string; message: string };

const nameCauses = (kind: string, name: string | undefined): Cause[] => {
  if (!name) return [{ field: 'metadata.name', message: 'Required value: name or generateName is required' }];
  if (LABEL_NAMED.has(kind)) {
    if (name.length > 63 || !DNS1123_LABEL.test(name)) {
      return [
        {
          field: 'metadata.name',
          message: `Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
        },
      ];
    }
    return [];
  }
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    return [
      {
        field: 'metadata.name',
        message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
      },
    ];
  }
  return [];
};

const podSpecCauses = (spec: KubeObject['spec'], prefix: string): Cause[] => {
  const causes: Cause[] = [];
  const containers: unknown[] = spec?.containers ?? [];
  if (!Array.isArray(containers) || containers.length === 0) {
    causes.push({ field: `${prefix}.containers`, message: 'Required value' });
  }
  for (const [list, items] of [
    ['containers', containers],
    ['initContainers', spec?.initContainers ?? []],
  ] as const) {
    for (const [index, container] of (items as { name?: string; image?: string }[]).entries()) {
      if (!container.name)
        causes.push({ field: `${prefix}.${list}[${index}].name`, message: 'Required value' });
      if (!container.image)
        causes.push({ field: `${prefix}.${list}[${index}].image`, message: 'Required value' });
    }
  }
  const policy = spec?.restartPolicy;
  if (policy !== undefined && !['Always', 'OnFailure', 'Never'].includes(policy)) {
    causes.push({ field: `${prefix}.restartPolicy`, message: `Unsupported value: "${policy}"` });
  }
  return causes;
};

const templateCauses = (object: KubeObject): Cause[] => {
  const spec = object.spec;
  if (!spec?.template) return [{ field: 'spec.template', message: 'Required value' }];
  const causes = podSpecCauses(spec.template.spec, 'spec.template.spec');
  const labels: Record<string, string> = spec.template.metadata?.labels ?? {};
  const selector = spec.selector?.matchLabels as Record<string, string> | undefined;
  if (object.kind !== 'Job' && !spec.selector)
    causes.push({ field: 'spec.selector', message: 'Required value' });
  for (const [key, value] of Object.entries(selector ?? {})) {
    if (labels[key] !== value) {
      causes.push({
        field: 'spec.template.metadata.labels',
        message: `Invalid value: ${JSON.stringify(labels)}: \`selector\` does not match template \`labels\``,
      });
      break;
    }
  }
  if (object.kind === 'Job') {
    const policy = spec.template.spec?.restartPolicy;
    if (policy !== 'Never' && policy !== 'OnFailure') {
      causes.push({
        field: 'spec.template.spec.restartPolicy',
        message: `Unsupported value: "${policy ?? 'Always'}": supported values: "OnFailure", "Never"`,
      });
    }
  }
  return causes;
};

const kindCauses = (object: KubeObject): Cause[] => {
  switch (object.kind) {
    case 'Pod':
      return podSpecCauses(object.spec, 'spec');
    case 'Job':
    case 'Deployment':
    case 'ReplicaSet':
    case 'DaemonSet':
    case 'StatefulSet':
      return templateCauses(object);
    case 'RoleBinding':
    case 'ClusterRoleBinding':
      return object.roleRef ? [] : [{ field: 'roleRef', message: 'Required value' }];
    default:
      return [];
  }
};

/** kind and apiVersion of a body must be the URL's; the real server answers 400 otherwise. */
export const checkKind = (type: ResourceType, object: KubeObject): void => {
  const apiVersion = apiVersionOf(type);
  if (object.kind !== type.kind || object.apiVersion !== apiVersion) {
    throw new ApiError(
      'BadRequest',
      `the API version in the data (${object.apiVersion}) does not match the expected API version (${apiVersion})`,
    );
  }
};

export const validateObject = (type: ResourceType, object: KubeObject): void => {
  checkKind(type, object);
  const causes = [...nameCauses(type.kind, object.metadata.name), ...kindCauses(object)];
  if (causes.length > 0) throw invalid(type.kind, object.metadata.name ?? '', causes);
};

/** Job's selector and pod template cannot change after creation (batch/v1 validation). */
export const validateUpdate = (type: ResourceType, current: KubeObject, next: KubeObject): void => {
  if (type.kind !== 'Job') return;
  const causes: Cause[] = [];
  if (JSON.stringify(current.spec?.selector) !== JSON.stringify(next.spec?.selector)) {
    causes.push({ field: 'spec.selector', message: 'Invalid value: field is immutable' });
  }
  if (JSON.stringify(current.spec?.template) !== JSON.stringify(next.spec?.template)) {
    causes.push({ field: 'spec.template', message: 'Invalid value: field is immutable' });
  }
  if (causes.length > 0) throw invalid(type.kind, next.metadata.name ?? '', causes);
};
