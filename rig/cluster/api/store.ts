// The stand-in's etcd: objects in memory under one global resourceVersion counter, with the recent change
// history kept so a watch can resume from a resourceVersion the client saw in a list.
import { randomUUID } from 'node:crypto';
import { typeOfResource } from './resources.ts';
import { ApiError, notFound } from './status.ts';
import { clone, type KubeObject, nowTimestamp, type WatchEvent } from './types.ts';

type Listener = (event: WatchEvent) => void;

const HISTORY_LIMIT = 5_000;

const keyOf = (namespace: string | undefined, name: string): string => `${namespace ?? ''}/${name}`;

// Fields whose change is no change of the desired state: they leave metadata.generation alone.
const withoutStatus = (object: KubeObject): string => {
  const { status: _status, metadata: _metadata, ...rest } = object;
  return JSON.stringify(rest);
};

export class Store {
  private revision = 1;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly listeners = new Set<Listener>();
  private readonly history: WatchEvent[] = [];

  get resourceVersion(): string {
    return String(this.revision);
  }

  private bucket(resource: string): Map<string, KubeObject> {
    let bucket = this.objects.get(resource);
    if (!bucket) {
      bucket = new Map();
      this.objects.set(resource, bucket);
    }
    return bucket;
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const found = this.bucket(resource).get(keyOf(namespace, name));
    return found ? clone(found) : undefined;
  }

  mustGet(resource: string, namespace: string | undefined, name: string): KubeObject {
    const found = this.get(resource, namespace, name);
    if (found) return found;
    const type = typeOfResource(resource);
    throw notFound(type.kind, resource, type.group, name);
  }

  list(resource: string, namespace?: string): KubeObject[] {
    const all = [...this.bucket(resource).values()];
    const inScope = namespace ? all.filter((object) => object.metadata.namespace === namespace) : all;
    return inScope.map(clone);
  }

  create(resource: string, input: KubeObject): KubeObject {
    const object = clone(input);
    const { metadata } = object;
    if (!metadata.name && metadata.generateName) {
      metadata.name = `${metadata.generateName}${randomUUID().replaceAll('-', '').slice(0, 5)}`;
    }
    const name = metadata.name ?? '';
    const bucket = this.bucket(resource);
    if (bucket.has(keyOf(metadata.namespace, name))) {
      const type = typeOfResource(resource);
      const what = type.group ? `${resource}.${type.group}` : resource;
      throw new ApiError('AlreadyExists', `${what} "${name}" already exists`, {
        name,
        group: type.group,
        kind: resource,
      });
    }
    metadata.uid ??= randomUUID();
    metadata.creationTimestamp = nowTimestamp();
    metadata.generation = 1;
    delete metadata.deletionTimestamp;
    return this.commit(resource, object, 'ADDED');
  }

  /** Replaces an object; a resourceVersion in `input` must match the stored one (optimistic concurrency). */
  update(resource: string, input: KubeObject): KubeObject {
    const current = this.mustGet(resource, input.metadata.namespace, input.metadata.name ?? '');
    const wanted = input.metadata.resourceVersion;
    if (wanted && wanted !== current.metadata.resourceVersion) {
      const type = typeOfResource(resource);
      throw new ApiError(
        'Conflict',
        `Operation cannot be fulfilled on ${resource}${type.group ? `.${type.group}` : ''} "${input.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
        { name: input.metadata.name, group: type.group, kind: resource },
      );
    }
    const object = clone(input);
    for (const field of ['uid', 'creationTimestamp', 'deletionTimestamp'] as const) {
      if (current.metadata[field] === undefined) delete object.metadata[field];
      else object.metadata[field] = current.metadata[field];
    }
    const specChanged = withoutStatus(object) !== withoutStatus(current);
    object.metadata.generation = (current.metadata.generation ?? 1) + (specChanged ? 1 : 0);
    if (
      JSON.stringify({ ...object, metadata: { ...object.metadata, resourceVersion: '' } }) ===
      JSON.stringify({ ...current, metadata: { ...current.metadata, resourceVersion: '' } })
    ) {
      return current;
    }
    return this.commit(resource, object, 'MODIFIED');
  }

  /** Removes the object now, or marks it for deletion while finalizers remain. */
  delete(resource: string, namespace: string | undefined, name: string): KubeObject {
    const current = this.mustGet(resource, namespace, name);
    if (current.metadata.finalizers?.length) {
      current.metadata.deletionTimestamp ??= nowTimestamp();
      return this.commit(resource, current, 'MODIFIED');
    }
    this.bucket(resource).delete(keyOf(namespace, name));
    this.revision += 1;
    current.metadata.resourceVersion = String(this.revision);
    this.publish({ type: 'DELETED', resource, object: current });
    return clone(current);
  }

  /** Sets metadata.deletionTimestamp (and what else the caller changed) without the update's checks. */
  markForDeletion(resource: string, object: KubeObject): KubeObject {
    const current = this.mustGet(resource, object.metadata.namespace, object.metadata.name ?? '');
    const next = clone(object);
    next.metadata.deletionTimestamp =
      current.metadata.deletionTimestamp ?? object.metadata.deletionTimestamp ?? nowTimestamp();
    return this.commit(resource, next, 'MODIFIED');
  }

  private commit(resource: string, object: KubeObject, type: 'ADDED' | 'MODIFIED'): KubeObject {
    this.revision += 1;
    object.metadata.resourceVersion = String(this.revision);
    this.bucket(resource).set(keyOf(object.metadata.namespace, object.metadata.name ?? ''), object);
    this.publish({ type, resource, object: clone(object) });
    return clone(object);
  }

  private publish(event: WatchEvent): void {
    this.history.push(event);
    if (this.history.length > HISTORY_LIMIT) this.history.splice(0, this.history.length - HISTORY_LIMIT);
    for (const listener of this.listeners) listener(event);
  }

  /** Changes after `resourceVersion`, or undefined when the history no longer reaches back that far. */
  since(resourceVersion: number): WatchEvent[] | undefined {
    const first = this.history[0];
    if (first && Number(first.object.metadata.resourceVersion) > resourceVersion + 1) return undefined;
    return this.history.filter((event) => Number(event.object.metadata.resourceVersion) > resourceVersion);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
