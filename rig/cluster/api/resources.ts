// The kinds the stand-in serves, one row each: discovery, OpenAPI, routing and validation all read this table,
// so a kind is either served everywhere or nowhere.

export interface ResourceType {
  /** '' for the core group. */
  group: string;
  version: string;
  /** Plural, as in the URL: 'deployments'. */
  resource: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  /** Subresources served beside the main one. */
  subresources: string[];
}

const core = (resource: string, kind: string, namespaced: boolean, extra: Partial<ResourceType> = {}) =>
  ({
    group: '',
    version: 'v1',
    resource,
    kind,
    namespaced,
    subresources: [],
    ...extra,
  }) satisfies ResourceType;

const inGroup = (group: string, resource: string, kind: string, extra: Partial<ResourceType> = {}) =>
  ({
    group,
    version: 'v1',
    resource,
    kind,
    namespaced: true,
    subresources: [],
    ...extra,
  }) satisfies ResourceType;

export const RESOURCE_TYPES: readonly ResourceType[] = [
  core('namespaces', 'Namespace', false, { shortNames: ['ns'], subresources: ['status'] }),
  core('nodes', 'Node', false, { shortNames: ['no'], subresources: ['status'] }),
  core('pods', 'Pod', true, { shortNames: ['po'], categories: ['all'], subresources: ['status', 'log'] }),
  core('services', 'Service', true, { shortNames: ['svc'], categories: ['all'], subresources: ['status'] }),
  core('configmaps', 'ConfigMap', true, { shortNames: ['cm'] }),
  core('secrets', 'Secret', true),
  core('serviceaccounts', 'ServiceAccount', true, { shortNames: ['sa'] }),
  core('events', 'Event', true, { shortNames: ['ev'] }),
  core('persistentvolumeclaims', 'PersistentVolumeClaim', true, {
    shortNames: ['pvc'],
    subresources: ['status'],
  }),
  inGroup('batch', 'jobs', 'Job', { categories: ['all'], subresources: ['status'] }),
  inGroup('apps', 'deployments', 'Deployment', {
    shortNames: ['deploy'],
    categories: ['all'],
    subresources: ['status'],
  }),
  inGroup('apps', 'replicasets', 'ReplicaSet', {
    shortNames: ['rs'],
    categories: ['all'],
    subresources: ['status'],
  }),
  inGroup('apps', 'daemonsets', 'DaemonSet', {
    shortNames: ['ds'],
    categories: ['all'],
    subresources: ['status'],
  }),
  inGroup('apps', 'statefulsets', 'StatefulSet', {
    shortNames: ['sts'],
    categories: ['all'],
    subresources: ['status'],
  }),
  inGroup('rbac.authorization.k8s.io', 'roles', 'Role'),
  inGroup('rbac.authorization.k8s.io', 'rolebindings', 'RoleBinding'),
  inGroup('rbac.authorization.k8s.io', 'clusterroles', 'ClusterRole', { namespaced: false }),
  inGroup('rbac.authorization.k8s.io', 'clusterrolebindings', 'ClusterRoleBinding', { namespaced: false }),
];

export const apiVersionOf = (type: Pick<ResourceType, 'group' | 'version'>): string =>
  type.group ? `${type.group}/${type.version}` : type.version;

export const groupsServed = (): string[] => [...new Set(RESOURCE_TYPES.map((type) => type.group))];

export const typesInGroupVersion = (group: string, version: string): ResourceType[] =>
  RESOURCE_TYPES.filter((type) => type.group === group && type.version === version);

export const findType = (group: string, version: string, resource: string): ResourceType | undefined =>
  RESOURCE_TYPES.find(
    (type) => type.group === group && type.version === version && type.resource === resource,
  );

export const findTypeByKind = (apiVersion: string, kind: string): ResourceType | undefined =>
  RESOURCE_TYPES.find((type) => apiVersionOf(type) === apiVersion && type.kind === kind);

export const typeOfResource = (resource: string): ResourceType => {
  const type = RESOURCE_TYPES.find((candidate) => candidate.resource === resource);
  if (!type) throw new Error(`the stand-in serves no resource ${resource}`);
  return type;
};
