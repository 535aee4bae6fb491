// PATCH bodies: RFC 6902 JSON patch, RFC 7386 merge patch, and an approximation of strategic merge patch that
// merges lists of named items (containers, env, volumes, ports...) by their merge key as the real server does.
import { ApiError } from './status.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export const mergePatch = (target: Json, patch: Json): Json => {
  if (!isObject(patch)) return patch;
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key] ?? null, value);
  }
  return result;
};

// The patchMergeKey of the list fields in the kinds served (from the Kubernetes types' struct tags).
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  conditions: 'type',
  ownerReferences: 'uid',
  hostAliases: 'ip',
  secrets: 'name',
};

const mergeKeyFor = (field: string, items: Json[]): string | undefined => {
  if (field === 'ports') {
    const first = items.find(isObject);
    return first && 'containerPort' in first ? 'containerPort' : 'port';
  }
  return MERGE_KEYS[field];
};

const mergeList = (field: string, target: Json, patch: Json[]): Json[] => {
  const key = mergeKeyFor(field, patch);
  if (!key || !Array.isArray(target)) return patch.filter((item) => !isObject(item) || !('$patch' in item));
  const result = [...target];
  for (const item of patch) {
    if (!isObject(item)) continue;
    const index = result.findIndex((existing) => isObject(existing) && existing[key] === item[key]);
    if (item.$patch === 'delete') {
      if (index >= 0) result.splice(index, 1);
      continue;
    }
    if (index >= 0) result[index] = strategicMergePatch(result[index] ?? null, item);
    else result.push(item);
  }
  return result;
};

export const strategicMergePatch = (target: Json, patch: Json): Json => {
  if (!isObject(patch)) return patch;
  if (patch.$patch === 'replace') {
    const { $patch: _directive, ...rest } = patch;
    return rest;
  }
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    if (value === null) delete result[key];
    else if (Array.isArray(value)) result[key] = mergeList(key, result[key] ?? null, value);
    else result[key] = strategicMergePatch(result[key] ?? null, value);
  }
  return result;
};

const decodePointer = (pointer: string): string[] => {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new ApiError('BadRequest', `json patch: invalid path ${pointer}`);
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'));
};

const parentOf = (document: Json, parts: string[], pointer: string): { parent: Json; last: string } => {
  let node = document;
  for (const part of parts.slice(0, -1)) {
    const next = Array.isArray(node) ? node[Number(part)] : isObject(node) ? node[part] : undefined;
    if (next === undefined) throw new ApiError('Invalid', `json patch: path ${pointer} does not exist`);
    node = next;
  }
  return { parent: node, last: parts.at(-1) ?? '' };
};

interface JsonPatchOperation {
  op: string;
  path: string;
  value?: Json;
  from?: string;
}

const readAt = (document: Json, pointer: string): Json => {
  const parts = decodePointer(pointer);
  if (parts.length === 0) return document;
  const { parent, last } = parentOf(document, parts, pointer);
  const value = Array.isArray(parent) ? parent[Number(last)] : isObject(parent) ? parent[last] : undefined;
  if (value === undefined) throw new ApiError('Invalid', `json patch: path ${pointer} does not exist`);
  return value;
};

const writeAt = (document: Json, pointer: string, value: Json | undefined, insert: boolean): void => {
  const { parent, last } = parentOf(document, decodePointer(pointer), pointer);
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (value === undefined) parent.splice(index, 1);
    else if (insert) parent.splice(index, 0, value);
    else parent[index] = value;
    return;
  }
  if (!isObject(parent)) throw new ApiError('Invalid', `json patch: path ${pointer} has no parent object`);
  if (value === undefined) delete parent[last];
  else parent[last] = value;
};

export const jsonPatch = (input: Json, operations: unknown): Json => {
  if (!Array.isArray(operations))
    throw new ApiError('BadRequest', 'json patch: the body must be a JSON array');
  const document = structuredClone(input);
  for (const operation of operations as JsonPatchOperation[]) {
    const { op, path } = operation;
    if (op === 'test') {
      if (JSON.stringify(readAt(document, path)) !== JSON.stringify(operation.value)) {
        throw new ApiError('Invalid', `json patch: test failed at ${path}`);
      }
    } else if (op === 'remove') {
      readAt(document, path);
      writeAt(document, path, undefined, false);
    } else if (op === 'add' || op === 'replace') {
      if (op === 'replace') readAt(document, path);
      writeAt(document, path, structuredClone(operation.value ?? null), op === 'add');
    } else if (op === 'move' || op === 'copy') {
      const value = readAt(document, operation.from ?? '');
      if (op === 'move') writeAt(document, operation.from ?? '', undefined, false);
      writeAt(document, path, structuredClone(value), true);
    } else {
      throw new ApiError('BadRequest', `json patch: unknown op ${String(op)}`);
    }
  }
  return document;
};

/**
 * Fields set by a previous apply of the same field manager and missing from this one are removed, like the
 * real server does for fields a manager stops owning. Only maps are pruned; lists are replaced or merged.
 */
export const pruneDropped = (live: Json, previous: Json, applied: Json): Json => {
  if (!isObject(live) || !isObject(previous)) return live;
  const result: JsonObject = { ...live };
  const now = isObject(applied) ? applied : {};
  for (const key of Object.keys(previous)) {
    if (!(key in now)) delete result[key];
    else if (isObject(previous[key]) && isObject(now[key]) && key in result) {
      result[key] = pruneDropped(result[key] ?? null, previous[key] ?? null, now[key] ?? null);
    }
  }
  return result;
};

export type { Json, JsonObject };
