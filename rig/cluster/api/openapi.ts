// /openapi/v3: the index and one document per group version. kubectl's and Helm's validators read the PATCH
// operations of each kind for the fieldValidation parameter; finding it, they leave validation to the server
// (fieldValidation=Strict), which is where the stand-in checks unknown fields.
import { createHash } from 'node:crypto';
import {
  apiVersionOf,
  groupsServed,
  RESOURCE_TYPES,
  type ResourceType,
  typesInGroupVersion,
} from './resources.ts';
import { components, kindComponent } from './schemas.ts';

const gvPath = (group: string, version: string): string =>
  group ? `apis/${group}/${version}` : `api/${version}`;

const gvk = (type: ResourceType) => [{ group: type.group, version: type.version, kind: type.kind }];

const QUERY_PARAMETERS = ['dryRun', 'fieldManager', 'fieldValidation', 'force', 'pretty'].map((name) => ({
  name,
  in: 'query',
  schema: { type: name === 'force' ? 'boolean' : 'string', uniqueItems: true },
}));

const operation = (type: ResourceType, action: string) => ({
  operationId: `${action}${type.kind}`,
  parameters: QUERY_PARAMETERS,
  responses: { '200': { description: 'OK' } },
  'x-kubernetes-action': action,
  'x-kubernetes-group-version-kind': { group: type.group, version: type.version, kind: type.kind },
});

const pathsFor = (type: ResourceType) => {
  const base = `/${gvPath(type.group, type.version)}${type.namespaced ? '/namespaces/{namespace}' : ''}/${type.resource}`;
  return {
    [base]: { get: operation(type, 'list'), post: operation(type, 'post') },
    [`${base}/{name}`]: {
      get: operation(type, 'get'),
      put: operation(type, 'put'),
      patch: operation(type, 'patch'),
      delete: operation(type, 'delete'),
    },
  };
};

export const openApiV3Document = (group: string, version: string) => {
  const types = typesInGroupVersion(group, version);
  if (types.length === 0) return undefined;
  for (const type of RESOURCE_TYPES) kindComponent(type.kind);
  const kinds = new Map(types.map((type) => [kindComponent(type.kind), type]));
  // Every type parsed so far: a superset of what this group version's kinds reference.
  const schemas: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(components)) {
    const type = kinds.get(name);
    schemas[name] = type ? { ...schema, 'x-kubernetes-group-version-kind': gvk(type) } : schema;
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.33.0' },
    paths: Object.assign({}, ...types.map(pathsFor)),
    components: { schemas },
  };
};

const hashOf = (value: unknown): string =>
  createHash('sha512').update(JSON.stringify(value)).digest('hex').slice(0, 64).toUpperCase();

export const openApiV3Index = () => {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  const versions = new Set(RESOURCE_TYPES.map((type) => apiVersionOf(type)));
  for (const group of groupsServed()) {
    for (const apiVersion of versions) {
      const [g, v] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
      if (g !== group || !v) continue;
      const path = gvPath(group, v);
      paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${hashOf(openApiV3Document(group, v))}` };
    }
  }
  return { paths };
};
