// PATCH: json-patch, merge-patch, strategic-merge-patch, and server-side apply (application/apply-patch+yaml,
// Helm 4's default). Apply creates a missing object, merges into a live one, and drops the fields the same
// field manager applied last time and no longer sends.
import { parse as parseYaml } from 'yaml';
import { recordManager } from './managed-fields.ts';
import { type ApiRequest, checkFields, insertObject, managerOf, replaceObject } from './objects.ts';
import { type Json, jsonPatch, mergePatch, pruneDropped, strategicMergePatch } from './patch.ts';
import { ApiError } from './status.ts';
import type { Store } from './store.ts';
import type { KubeObject } from './types.ts';
import { checkKind } from './validate.ts';

/** The configuration each manager last applied, by object uid: what apply compares against to prune. */
export type AppliedConfigs = Map<string, Json>;

const mediaType = (contentType: string): string => contentType.split(';')[0]?.trim() ?? '';

const applyPatch = (
  store: Store,
  request: ApiRequest,
  applied: AppliedConfigs,
  current: KubeObject | undefined,
): KubeObject => {
  const body = (typeof request.body === 'string' ? parseYaml(request.body) : request.body) as KubeObject;
  if (!body || typeof body !== 'object')
    throw new ApiError('BadRequest', 'apply: the body must be an object');
  body.metadata ??= {};
  checkKind(request.type, body);
  checkFields(request, body, true);
  const manager = request.query.get('fieldManager');
  if (!manager) {
    throw new ApiError(
      'BadRequest',
      'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
    );
  }
  if (!current) {
    const object = structuredClone(body);
    recordManager(object, manager, 'Apply', body);
    const created = insertObject(store, request, object);
    request.created = true;
    applied.set(`${created.metadata.uid}/${manager}`, body as unknown as Json);
    return created;
  }
  const key = `${current.metadata.uid}/${manager}`;
  const previous = applied.get(key) ?? null;
  const merged = strategicMergePatch(current as unknown as Json, body as unknown as Json);
  const next = pruneDropped(merged, previous, body as unknown as Json) as unknown as KubeObject;
  next.metadata.resourceVersion = undefined;
  recordManager(next, manager, 'Apply', body, request.subresource);
  const result = replaceObject(store, request, next);
  applied.set(key, body as unknown as Json);
  return result;
};

export const patchObject = (store: Store, request: ApiRequest, applied: AppliedConfigs): KubeObject => {
  const type = mediaType(request.contentType);
  const current = store.get(request.type.resource, request.namespace, request.name ?? '');
  if (type === 'application/apply-patch+yaml' || type === 'application/apply-patch+cbor') {
    return applyPatch(store, request, applied, current);
  }
  if (!current) {
    return replaceObject(store, request, { metadata: {} } as KubeObject);
  }
  const source = current as unknown as Json;
  let patched: Json;
  if (type === 'application/json-patch+json') patched = jsonPatch(source, request.body);
  else if (type === 'application/merge-patch+json') patched = mergePatch(source, request.body as Json);
  else if (type === 'application/strategic-merge-patch+json') {
    patched = strategicMergePatch(source, request.body as Json);
  } else {
    throw new ApiError(
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
    );
  }
  const next = patched as unknown as KubeObject;
  checkFields(request, next, false);
  // A patch that names no resourceVersion applies to whatever is stored now.
  const sentVersion = (request.body as { metadata?: { resourceVersion?: string } })?.metadata
    ?.resourceVersion;
  if (!sentVersion) next.metadata.resourceVersion = undefined;
  recordManager(next, managerOf(request), 'Update', request.body as KubeObject, request.subresource);
  return replaceObject(store, request, next);
};
