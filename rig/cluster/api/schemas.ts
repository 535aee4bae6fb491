// Schemas of the kinds served, read from the type declarations of the `kubernetes-models` package (generated
// from Kubernetes' own OpenAPI document): every field of every type, so the server can name unknown fields as
// the real one does and /openapi/v3 can publish the field tree. Types and formats are kept coarse.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

export interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: Schema | boolean;
  enum?: string[];
  $ref?: string;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

const require = createRequire(import.meta.url);
const MODELS = dirname(require.resolve('kubernetes-models/package.json'));
const MACHINERY = dirname(
  require.resolve('@kubernetes-models/apimachinery/package.json', { paths: [MODELS] }),
);

const MACHINERY_PACKAGES = [
  ['ApisMetaV1', 'apis.meta.v1'],
  ['UtilIntstr', 'util.intstr'],
  ['ApiResource', 'api.resource'],
  ['Runtime', 'runtime'],
] as const;

/** Component name of a declared type, as in Kubernetes' OpenAPI: IIoK8sApiCoreV1PodSpec -> io.k8s.api.core.v1.PodSpec. */
const componentName = (typeName: string): string => {
  const name = typeName.replace(/^I/, '');
  if (name.startsWith('IoK8sApimachineryPkg')) {
    const rest = name.slice('IoK8sApimachineryPkg'.length);
    for (const [prefix, path] of MACHINERY_PACKAGES) {
      if (rest.startsWith(prefix)) return `io.k8s.apimachinery.pkg.${path}.${rest.slice(prefix.length)}`;
    }
    return `io.k8s.apimachinery.pkg.${rest}`;
  }
  const api = /^IoK8sApi([A-Z][a-z]+)(V\d+(?:(?:alpha|beta)\d+)?)(\w+)$/.exec(name);
  if (!api) return name;
  const [, group = '', version = '', kind = ''] = api;
  return `io.k8s.api.${group.toLowerCase()}.${version.toLowerCase()}.${kind}`;
};

export const components: Record<string, Schema> = {};

const importsOf = (text: string, file: string): Map<string, string> => {
  const imports = new Map<string, string>();
  for (const match of text.matchAll(/import \{ (\w+) \} from "([^"]+)";/g)) {
    const [, name = '', from = ''] = match;
    const path = from.startsWith('.')
      ? resolve(dirname(file), `${from}.d.ts`)
      : from.startsWith('@kubernetes-models/apimachinery/')
        ? join(MACHINERY, `${from.slice('@kubernetes-models/apimachinery/'.length)}.d.ts`)
        : '';
    if (path) imports.set(name, path);
  }
  return imports;
};

const parseType = (expression: string, imports: Map<string, string>): Schema => {
  const type = expression.trim().replace(/;$/, '');
  const array = /^Array<(.+)>$/s.exec(type);
  if (array) return { type: 'array', items: parseType(array[1] ?? '', imports) };
  const map = /^\{\s*\[key: string\]: (.+?);?\s*\}$/s.exec(type);
  if (map) return { type: 'object', additionalProperties: parseType(map[1] ?? '', imports) };
  if (type === 'string' || type === 'number' || type === 'boolean') return { type };
  if (/^"[^"]*"( \| "[^"]*")*$/.test(type))
    return { type: 'string', enum: type.split(' | ').map((value) => JSON.parse(value)) };
  if (type === 'number | string' || type === 'string | number') return { 'x-kubernetes-int-or-string': true };
  const file = imports.get(type);
  if (file) return { $ref: `#/components/schemas/${declare(type, file)}` };
  return { 'x-kubernetes-preserve-unknown-fields': true };
};

// Property lines of an interface body; a map type spans lines until its closing brace.
const propertiesOf = (body: string, imports: Map<string, string>): Schema => {
  const properties: Record<string, Schema> = {};
  const required: string[] = [];
  for (const match of body.matchAll(/^ {4}"([^"]+)"(\??): ((?:\{[\s\S]*?\n {4}\})|[^\n]+);$/gm)) {
    const [, name = '', optional, type = ''] = match;
    properties[name] = parseType(type, imports);
    if (!optional && name !== 'apiVersion' && name !== 'kind') required.push(name);
  }
  return { type: 'object', properties, ...(required.length ? { required } : {}) };
};

/** Parses the declaration of `typeName` in `file` into `components` (once) and returns its component name. */
const declare = (typeName: string, file: string): string => {
  const name = componentName(typeName);
  if (components[name]) return name;
  components[name] = {};
  const text = readFileSync(file, 'utf8').replace(/\/\*\*[\s\S]*?\*\//g, '');
  const imports = importsOf(text, file);
  const alias = /export declare type I\w+ = ([^;]+);/.exec(text);
  const body = /export interface I\w+(?: extends TypeMeta)? \{\n([\s\S]*?)\n\}/.exec(text);
  components[name] = body
    ? propertiesOf(body[1] ?? '', imports)
    : parseType(alias?.[1] ?? 'unknown', imports);
  return name;
};

const KIND_FILES: Record<string, string> = {
  Namespace: 'v1/Namespace',
  Node: 'v1/Node',
  Pod: 'v1/Pod',
  Service: 'v1/Service',
  ConfigMap: 'v1/ConfigMap',
  Secret: 'v1/Secret',
  ServiceAccount: 'v1/ServiceAccount',
  Event: 'v1/Event',
  PersistentVolumeClaim: 'v1/PersistentVolumeClaim',
  Job: 'batch/v1/Job',
  Deployment: 'apps/v1/Deployment',
  ReplicaSet: 'apps/v1/ReplicaSet',
  DaemonSet: 'apps/v1/DaemonSet',
  StatefulSet: 'apps/v1/StatefulSet',
  Role: 'rbac.authorization.k8s.io/v1/Role',
  RoleBinding: 'rbac.authorization.k8s.io/v1/RoleBinding',
  ClusterRole: 'rbac.authorization.k8s.io/v1/ClusterRole',
  ClusterRoleBinding: 'rbac.authorization.k8s.io/v1/ClusterRoleBinding',
};

/** The component name of a served kind's schema, parsed on first use. */
export const kindComponent = (kind: string): string => {
  const file = KIND_FILES[kind];
  if (!file) throw new Error(`no schema for kind ${kind}`);
  const group = file.split('/').slice(0, -1);
  const typeName = `IIoK8sApi${group.length === 1 ? 'Core' : (group[0] ?? '').split('.')[0]?.replace(/^\w/, (c) => c.toUpperCase())}V1${kind}`;
  return declare(typeName, join(MODELS, `${file}.d.ts`));
};

const resolveRef = (schema: Schema): Schema =>
  schema.$ref ? (components[schema.$ref.slice('#/components/schemas/'.length)] ?? {}) : schema;

/** Paths of fields the schema does not know, as the real server names them: `spec.template.spec.foo`. */
export const unknownFields = (value: unknown, schema: Schema, path = ''): string[] => {
  const resolved = resolveRef(schema);
  if (Array.isArray(value)) {
    return resolved.items
      ? value.flatMap((item, index) => unknownFields(item, resolved.items!, `${path}[${index}]`))
      : [];
  }
  if (typeof value !== 'object' || value === null || resolved['x-kubernetes-preserve-unknown-fields'])
    return [];
  const found: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const childPath = path ? `${path}.${key}` : key;
    const known = resolved.properties?.[key];
    const extra = resolved.additionalProperties;
    if (known) found.push(...unknownFields(child, known, childPath));
    else if (typeof extra === 'object') found.push(...unknownFields(child, extra, childPath));
    else if (resolved.properties) found.push(childPath);
  }
  return found;
};

export const unknownFieldsOf = (kind: string, object: unknown): string[] =>
  KIND_FILES[kind] ? unknownFields(object, { $ref: `#/components/schemas/${kindComponent(kind)}` }) : [];
