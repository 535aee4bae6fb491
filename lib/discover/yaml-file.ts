import { readFile } from 'node:fs/promises';
import { isMap, parseDocument, type YAMLError } from 'yaml';
import { AirlockError } from '../errors.ts';

export type Values = Record<string, unknown>;

/** `spec.containers[0].image`: the path to a value as people write it. */
export const joinPath = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;

export const isPlainObject = (value: unknown): value is Values =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `values.yaml:3:7: not valid YAML: ...` — the position is what a person needs to fix the file. */
const describeYamlError = (label: string, error: YAMLError): string => {
  const position = error.linePos?.[0];
  const where = position ? `${label}:${position.line}:${position.col}` : label;
  const reason = error.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? 'syntax error';
  return `${where}: not valid YAML: ${reason}`;
};

/** Parses one YAML document; an empty document is an empty map, as helm reads an empty values file. */
export const parseYamlMap = (text: string, label: string): Values => {
  const document = parseDocument(text, { merge: true, prettyErrors: true });
  const firstError = document.errors[0];
  if (firstError)
    throw new AirlockError('BAD_INPUT', describeYamlError(label, firstError), { cause: firstError });
  if (document.contents === null) return {};
  if (!isMap(document.contents)) {
    throw new AirlockError('BAD_INPUT', `${label}: expected a YAML map at the top level — fix the file`);
  }
  const value: unknown = document.toJS({ maxAliasCount: 1000 });
  return isPlainObject(value) ? value : {};
};

/** Reads a YAML map from disk; a missing file or a syntax error is a BAD_INPUT naming the file. */
export const readYamlMap = async (path: string, label = path): Promise<Values> => {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new AirlockError('BAD_INPUT', `${label}: cannot read: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseYamlMap(text, label);
};
