// DELETE and deletecollection with DeleteOptions.propagationPolicy. Background leaves dependents to the garbage
// collector; Foreground removes them before the owner (synchronously: there are no finalizers to wait on);
// Orphan strips the owner reference from them. Namespaces go Terminating and their controller empties them.
import { type ApiRequest, selectObjects, withKind } from './objects.ts';
import { RESOURCE_TYPES, type ResourceType } from './resources.ts';
import { ApiError, successStatus } from './status.ts';
import type { Store } from './store.ts';
import { type KubeObject, nowTimestamp } from './types.ts';

type Propagation = 'Background' | 'Foreground' | 'Orphan';

const propagationOf = (request: ApiRequest): Propagation => {
  const body = (request.body ?? {}) as { propagationPolicy?: string; orphanDependents?: boolean };
  const policy = request.query.get('propagationPolicy') ?? body.propagationPolicy;
  if (policy === undefined) {
    if (body.orphanDependents === true || request.query.get('orphanDependents') === 'true') return 'Orphan';
    // batch/v1 Jobs orphan their pods unless told otherwise, for compatibility (as the real server does).
    return request.type.kind === 'Job' ? 'Orphan' : 'Background';
  }
  if (policy !== 'Background' && policy !== 'Foreground' && policy !== 'Orphan') {
    throw new ApiError('BadRequest', `propagationPolicy: Unsupported value: "${policy}"`);
  }
  return policy;
};

/** Every object, of any kind, whose ownerReferences name `uid`. */
export const dependentsOf = (store: Store, uid: string): { type: ResourceType; object: KubeObject }[] => {
  const found: { type: ResourceType; object: KubeObject }[] = [];
  for (const type of RESOURCE_TYPES) {
    for (const object of store.list(type.resource)) {
      if (object.metadata.ownerReferences?.some((reference) => reference.uid === uid))
        found.push({ type, object });
    }
  }
  return found;
};

const orphan = (store: Store, uid: string): void => {
  for (const { type, object } of dependentsOf(store, uid)) {
    object.metadata.ownerReferences = object.metadata.ownerReferences?.filter(
      (reference) => reference.uid !== uid,
    );
    store.update(type.resource, object);
  }
};

export const deleteCascading = (store: Store, type: ResourceType, object: KubeObject): void => {
  for (const dependent of dependentsOf(store, object.metadata.uid ?? '')) {
    deleteCascading(store, dependent.type, dependent.object);
  }
  if (store.get(type.resource, object.metadata.namespace, object.metadata.name ?? '')) {
    store.delete(type.resource, object.metadata.namespace, object.metadata.name ?? '');
  }
};

const deleteOne = (
  store: Store,
  request: ApiRequest,
  object: KubeObject,
  policy: Propagation,
): KubeObject => {
  const { type } = request;
  const uid = object.metadata.uid ?? '';
  const preconditions = (request.body as { preconditions?: { uid?: string; resourceVersion?: string } })
    ?.preconditions;
  if (preconditions?.uid && preconditions.uid !== uid) {
    throw new ApiError(
      'Conflict',
      `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${uid}`,
    );
  }
  if (type.kind === 'Namespace') {
    object.metadata.deletionTimestamp ??= nowTimestamp();
    object.status = { ...object.status, phase: 'Terminating' };
    return withKind(type, store.markForDeletion(type.resource, object));
  }
  if (policy === 'Orphan') orphan(store, uid);
  if (policy === 'Foreground') {
    deleteCascading(store, type, object);
    return withKind(type, object);
  }
  return withKind(type, store.delete(type.resource, object.metadata.namespace, object.metadata.name ?? ''));
};

export const deleteObject = (store: Store, request: ApiRequest): KubeObject => {
  const { type } = request;
  const object = store.mustGet(type.resource, request.namespace, request.name ?? '');
  if (request.query.get('dryRun') === 'All') return withKind(type, object);
  return deleteOne(store, request, object, propagationOf(request));
};

export const deleteCollection = (store: Store, request: ApiRequest): Record<string, unknown> => {
  const policy = propagationOf(request);
  const objects = selectObjects(store, request);
  if (request.query.get('dryRun') !== 'All') {
    for (const object of objects) deleteOne(store, request, object, policy);
  }
  return { ...successStatus({ kind: request.type.resource, group: request.type.group }), items: objects };
};
