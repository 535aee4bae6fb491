// The verbs on stored objects: get, list, create, update, delete, deletecollection. PATCH and apply live in
// apply.ts, watch in watch.ts; all of them go through the store so every change reaches the watchers.
import { randomUUID } from 'node:crypto';
import { admitPod } from './admission.ts';
import { applyDefaults, normalizeOnWrite } from './defaults.ts';
import { managerFromUserAgent, recordManager } from './managed-fields.ts';
import { apiVersionOf, type ResourceType } from './resources.ts';
import { unknownFieldsOf } from './schemas.ts';
import { fieldSelectorPredicate, labelSelectorPredicate } from './selectors.ts';
import { ApiError, notFound } from './status.ts';
import type { Store } from './store.ts';
import type { KubeObject } from './types.ts';
import { validateObject, validateUpdate } from './validate.ts';

export interface ApiRequest {
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
  query: URLSearchParams;
  body?: unknown;
  contentType: string;
  userAgent?: string;
  /** Warning headers for the response (fieldValidation=Warn, the default). */
  warnings: string[];
  /** Set when a PATCH (server-side apply) created the object: the answer is 201 then. */
  created?: boolean;
}

/**
 * fieldValidation: Strict refuses unknown fields with 400, Warn (the default) answers with a Warning header per
 * field, Ignore drops them silently, as the real server does.
 */
export const checkFields = (request: ApiRequest, object: KubeObject, apply: boolean): void => {
  const directive = request.query.get('fieldValidation') ?? 'Warn';
  if (directive === 'Ignore') return;
  if (directive !== 'Strict' && directive !== 'Warn') {
    throw new ApiError(
      'BadRequest',
      `fieldValidation: Unsupported value: "${directive}": supported values: "Ignore", "Strict", "Warn"`,
    );
  }
  const unknown = unknownFieldsOf(request.type.kind, object);
  if (unknown.length === 0) return;
  const messages = unknown.map((field) =>
    apply ? `.${field}: field not declared in schema` : `unknown field "${field}"`,
  );
  if (directive === 'Warn') {
    request.warnings.push(...messages);
    return;
  }
  const { kind } = request.type;
  throw new ApiError(
    'BadRequest',
    apply
      ? messages.join(', ')
      : `${kind} in version "${request.type.version}" cannot be handled as a ${kind}: strict decoding error: ${messages.join(', ')}`,
  );
};

export const withKind = (type: ResourceType, object: KubeObject): KubeObject => ({
  ...object,
  apiVersion: apiVersionOf(type),
  kind: type.kind,
});

export const managerOf = (request: ApiRequest): string =>
  request.query.get('fieldManager') ?? managerFromUserAgent(request.userAgent);

export const getObject = (store: Store, request: ApiRequest): KubeObject =>
  withKind(request.type, store.mustGet(request.type.resource, request.namespace, request.name ?? ''));

export const selectObjects = (store: Store, request: ApiRequest): KubeObject[] => {
  const byLabel = labelSelectorPredicate(request.query.get('labelSelector'));
  const byField = fieldSelectorPredicate(request.query.get('fieldSelector'));
  return store
    .list(request.type.resource, request.namespace)
    .filter((object) => byLabel(object) && byField(object))
    .sort((a, b) =>
      `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
        `${b.metadata.namespace}/${b.metadata.name}`,
      ),
    );
};

export const listObjects = (store: Store, request: ApiRequest): KubeObject => {
  const resourceVersion = store.resourceVersion;
  const all = selectObjects(store, request);
  // limit/continue: the continue token is the offset into the sorted selection, enough for paging clients.
  const offset = Number(request.query.get('continue') || 0);
  const limit = Number(request.query.get('limit') || 0);
  const page = limit > 0 ? all.slice(offset, offset + limit) : all.slice(offset);
  const more = limit > 0 && offset + limit < all.length;
  return {
    apiVersion: apiVersionOf(request.type),
    kind: `${request.type.kind}List`,
    metadata: {
      resourceVersion,
      ...(more ? { continue: String(offset + limit), remainingItemCount: all.length - offset - limit } : {}),
    },
    items: page.map((object) => withKind(request.type, object)),
  };
};

const requireBody = (request: ApiRequest): KubeObject => {
  const body = request.body as KubeObject | undefined;
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError('BadRequest', 'the request body must be a JSON or YAML object');
  }
  body.metadata ??= {};
  return body;
};

export const requireNamespace = (store: Store, namespace: string | undefined): void => {
  if (!namespace) return;
  const found = store.get('namespaces', undefined, namespace);
  if (!found) throw notFound('Namespace', 'namespaces', '', namespace);
  if (found.metadata.deletionTimestamp) {
    throw new ApiError(
      'Conflict',
      `unable to create new content in namespace ${namespace} because it is being terminated`,
    );
  }
};

/** Stores a new object after the checks and defaults of the real server. */
export const insertObject = (store: Store, request: ApiRequest, input: KubeObject): KubeObject => {
  const { type } = request;
  const object = structuredClone(input);
  if (type.namespaced) {
    if (object.metadata.namespace && object.metadata.namespace !== request.namespace) {
      throw new ApiError(
        'BadRequest',
        `the namespace of the provided object does not match the namespace sent on the request`,
      );
    }
    object.metadata.namespace = request.namespace;
  } else {
    delete object.metadata.namespace;
  }
  if (!object.metadata.name && object.metadata.generateName) {
    object.metadata.name = `${object.metadata.generateName}${randomUUID().replaceAll('-', '').slice(0, 5)}`;
  }
  validateObject(type, object);
  requireNamespace(store, request.namespace);
  for (const field of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'generation']) {
    delete object.metadata[field];
  }
  object.metadata.uid = randomUUID();
  if (type.kind !== 'Pod' && type.kind !== 'Namespace') delete object.status;
  applyDefaults(object);
  if (type.kind === 'Pod') admitPod(store, object);
  normalizeOnWrite(object);
  if (request.query.get('dryRun') === 'All') return withKind(type, object);
  return withKind(type, store.create(type.resource, object));
};

export const createObject = (store: Store, request: ApiRequest): KubeObject => {
  const body = requireBody(request);
  checkFields(request, body, false);
  const object = structuredClone(body);
  recordManager(object, managerOf(request), 'Update', body);
  return insertObject(store, request, object);
};

/** Replaces an object (PUT, or the result of a patch); status and main resource keep to their own halves. */
export const replaceObject = (store: Store, request: ApiRequest, input: KubeObject): KubeObject => {
  const { type } = request;
  const current = store.mustGet(type.resource, request.namespace, request.name ?? '');
  const next = structuredClone(input);
  if (next.metadata.name !== undefined && next.metadata.name !== request.name) {
    throw new ApiError(
      'BadRequest',
      `the name of the object (${next.metadata.name}) does not match the name on the URL (${request.name})`,
    );
  }
  next.metadata.name = request.name;
  next.metadata.namespace = type.namespaced ? request.namespace : undefined;
  validateObject(type, next);
  if (request.subresource === 'status') {
    const merged = { ...current, status: next.status };
    merged.metadata = { ...current.metadata, resourceVersion: next.metadata.resourceVersion };
    return withKind(type, store.update(type.resource, merged));
  }
  if (type.subresources.includes('status') && type.kind !== 'Namespace') next.status = current.status;
  validateUpdate(type, current, next);
  normalizeOnWrite(next);
  if (request.query.get('dryRun') === 'All') return withKind(type, next);
  return withKind(type, store.update(type.resource, next));
};

export const updateObject = (store: Store, request: ApiRequest): KubeObject => {
  const body = requireBody(request);
  checkFields(request, body, false);
  const object = structuredClone(body);
  recordManager(object, managerOf(request), 'Update', body, request.subresource);
  return replaceObject(store, request, object);
};
