// metadata.managedFields, approximated: one entry per manager and operation, its fieldsV1 the set of fields
// the manager last sent (maps as f:<key>, lists of named items as k:{"name":...}). Conflicts are not tracked.
import type { Json, JsonObject } from './patch.ts';
import type { KubeObject } from './types.ts';
import { nowTimestamp } from './types.ts';

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const fieldsOf = (value: Json): JsonObject => {
  if (isObject(value)) {
    const fields: JsonObject = {};
    for (const [key, child] of Object.entries(value)) fields[`f:${key}`] = fieldsOf(child);
    return fields;
  }
  if (Array.isArray(value)) {
    const fields: JsonObject = {};
    for (const item of value) {
      if (isObject(item) && typeof item.name === 'string') {
        fields[`k:${JSON.stringify({ name: item.name })}`] = { '.': {}, ...fieldsOf(item) };
      }
    }
    return fields;
  }
  return {};
};

export const fieldsV1 = (object: KubeObject | JsonObject): JsonObject => {
  const { apiVersion: _apiVersion, kind: _kind, status: _status, ...rest } = object as JsonObject;
  const metadata = isObject(rest.metadata) ? rest.metadata : {};
  const { name: _name, namespace: _namespace, ...ownedMetadata } = metadata;
  return fieldsOf({ ...rest, metadata: ownedMetadata } as Json);
};

interface Entry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: JsonObject;
  subresource?: string;
}

export const recordManager = (
  object: KubeObject,
  manager: string,
  operation: 'Apply' | 'Update',
  sent: KubeObject | JsonObject,
  subresource?: string,
): void => {
  const entries = ((object.metadata.managedFields ?? []) as Entry[]).filter(
    (entry) =>
      !(entry.manager === manager && entry.operation === operation && entry.subresource === subresource),
  );
  entries.push({
    manager,
    operation,
    apiVersion: object.apiVersion,
    time: nowTimestamp(),
    fieldsType: 'FieldsV1',
    fieldsV1: fieldsV1(sent),
    ...(subresource ? { subresource } : {}),
  });
  object.metadata.managedFields = entries;
};

/** The client's own name for itself when it sends no fieldManager: kubectl, helm... */
export const managerFromUserAgent = (userAgent: string | undefined): string =>
  (userAgent ?? 'unknown').split('/')[0] || 'unknown';
