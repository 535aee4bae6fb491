// /version, /api, /apis and the group-version resource lists. Aggregated discovery (apidiscovery.k8s.io/v2) is
// not implemented: answering plain application/json makes client-go fall back to these legacy documents.
import { apiVersionOf, groupsServed, type ResourceType, typesInGroupVersion } from './resources.ts';

export const KUBERNETES_VERSION = { major: '1', minor: '33', gitVersion: 'v1.33.0' } as const;

export const versionInfo = () => ({
  ...KUBERNETES_VERSION,
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-04-23T00:00:00Z',
  goVersion: 'go1.24.2',
  compiler: 'gc',
  platform: `linux/${process.arch === 'arm64' ? 'arm64' : 'amd64'}`,
});

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

const resourceEntries = (type: ResourceType) => [
  {
    name: type.resource,
    singularName: type.kind.toLowerCase(),
    namespaced: type.namespaced,
    kind: type.kind,
    verbs: VERBS,
    ...(type.shortNames ? { shortNames: type.shortNames } : {}),
    ...(type.categories ? { categories: type.categories } : {}),
  },
  ...type.subresources.map((subresource) => ({
    name: `${type.resource}/${subresource}`,
    singularName: '',
    namespaced: type.namespaced,
    kind: subresource === 'log' ? 'Pod' : type.kind,
    verbs: subresource === 'log' ? ['get'] : ['get', 'patch', 'update'],
  })),
];

export const resourceList = (group: string, version: string) => {
  const types = typesInGroupVersion(group, version);
  if (types.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: apiVersionOf({ group, version }),
    resources: types.flatMap(resourceEntries),
  };
};

const groupEntry = (name: string) => ({
  name,
  versions: [{ groupVersion: `${name}/v1`, version: 'v1' }],
  preferredVersion: { groupVersion: `${name}/v1`, version: 'v1' },
});

export const coreVersions = (host: string) => ({
  kind: 'APIVersions',
  versions: ['v1'],
  serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: host }],
});

export const groupList = () => ({
  kind: 'APIGroupList',
  apiVersion: 'v1',
  groups: groupsServed().filter(Boolean).map(groupEntry),
});

export const groupInfo = (name: string) =>
  groupsServed().includes(name) && name
    ? { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(name) }
    : undefined;
