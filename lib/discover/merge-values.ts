import { isPlainObject, type Values } from './yaml-file.ts';

/**
 * Helm's coalescing: maps merge key by key, anything else in `override` replaces the base,
 * and a null in `override` deletes the key (how users switch off a default).
 */
export const mergeValues = (base: Values, override: Values): Values => {
  const merged: Values = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value === null) {
      delete merged[key];
      continue;
    }
    const current = merged[key];
    merged[key] = isPlainObject(current) && isPlainObject(value) ? mergeValues(current, value) : value;
  }
  return merged;
};

/** Reads `a.b.c` from a values tree. */
export const valueAt = (values: Values, dottedPath: string): unknown => {
  let current: unknown = values;
  for (const key of dottedPath.split('.')) {
    if (!isPlainObject(current)) return undefined;
    current = current[key];
  }
  return current;
};
