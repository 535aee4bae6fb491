// RBAC for service account requests on the in-cluster endpoint: the verbs a request stands for, and the
// Roles and ClusterRoles bound to the account (directly or through its groups) that allow it. A denial is 403
// with the real authorizer's sentence, so a chart whose hook Role misses a verb fails here as on a cluster.
import type { ServiceAccountUser } from './identity.ts';
import type { ResourcePath } from './route.ts';
import { ApiError } from './status.ts';
import type { Store } from './store.ts';
import type { KubeObject } from './types.ts';

interface Rule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

export interface Attributes {
  verb: string;
  path: ResourcePath;
}

/** The RBAC verb of a request, as the request-info resolver names it. */
export const verbOf = (method: string, path: ResourcePath, query: URLSearchParams): string => {
  const watching = ['true', '1'].includes(query.get('watch') ?? '');
  if (method === 'GET') return watching ? 'watch' : path.name ? 'get' : 'list';
  if (method === 'POST') return 'create';
  if (method === 'PUT') return 'update';
  if (method === 'PATCH') return 'patch';
  if (method === 'DELETE') return path.name ? 'delete' : 'deletecollection';
  return method.toLowerCase();
};

const covers = (values: string[] | undefined, wanted: string): boolean =>
  Boolean(values?.some((value) => value === '*' || value === wanted));

const allows = (rule: Rule, { verb, path }: Attributes): boolean => {
  const resource = path.subresource ? `${path.type.resource}/${path.subresource}` : path.type.resource;
  return (
    covers(rule.verbs, verb) &&
    covers(rule.apiGroups, path.type.group) &&
    covers(rule.resources, resource) &&
    (!rule.resourceNames?.length || Boolean(path.name && rule.resourceNames.includes(path.name)))
  );
};

const boundTo = (binding: KubeObject, user: ServiceAccountUser): boolean =>
  ((binding.subjects ?? []) as { kind: string; name: string; namespace?: string }[]).some((subject) =>
    subject.kind === 'ServiceAccount'
      ? subject.name === user.serviceAccountName && subject.namespace === user.namespace
      : subject.kind === 'Group' &&
        [
          'system:authenticated',
          'system:serviceaccounts',
          `system:serviceaccounts:${user.namespace}`,
        ].includes(subject.name),
  );

const rulesOf = (store: Store, binding: KubeObject): Rule[] => {
  const { kind, name } = (binding.roleRef ?? {}) as { kind?: string; name?: string };
  const role =
    kind === 'Role'
      ? store.get('roles', binding.metadata.namespace, name ?? '')
      : store.get('clusterroles', undefined, name ?? '');
  return (role?.rules ?? []) as Rule[];
};

/** Throws 403 unless a binding of the account's namespace (or a cluster binding) allows the request. */
export const authorize = (store: Store, user: ServiceAccountUser, attributes: Attributes): void => {
  const { path, verb } = attributes;
  const bindings = [
    ...(path.namespace ? store.list('rolebindings', path.namespace) : []),
    ...store.list('clusterrolebindings'),
  ];
  for (const binding of bindings) {
    if (boundTo(binding, user) && rulesOf(store, binding).some((rule) => allows(rule, attributes))) return;
  }
  const { group, resource } = path.type;
  const subject = path.subresource ? `${resource}/${path.subresource}` : resource;
  const where = path.namespace ? ` in the namespace "${path.namespace}"` : ' at the cluster scope';
  throw new ApiError(
    'Forbidden',
    `${group ? `${resource}.${group}` : resource}${path.name ? ` "${path.name}"` : ''} is forbidden: User "${user.username}" cannot ${verb} resource "${subject}" in API group "${group}"${where}`,
  );
};
