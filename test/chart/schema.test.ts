import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMap, isScalar, parseDocument, type YAMLMap } from 'yaml';
import { chartDir, helmBinaries, renderChartError } from './chart-render.ts';

const readSchema = async (): Promise<unknown> =>
  JSON.parse(await readFile(join(chartDir, 'values.schema.json'), 'utf8'));

/** Every JSON object inside the schema, with its JSON pointer. */
const walk = function* (node: unknown, pointer = ''): Generator<[string, Record<string, unknown>]> {
  if (Array.isArray(node)) {
    for (const [index, item] of node.entries()) yield* walk(item, `${pointer}/${index}`);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const object = Object.fromEntries(Object.entries(node));
  yield [pointer, object];
  for (const [key, value] of Object.entries(object)) yield* walk(value, `${pointer}/${key}`);
};

// Values whose keys are data (Kubernetes fields, labels, annotations), not documented chart settings.
const FREE_FORM = new Set([
  'resources',
  'initResources',
  'podSecurityContext',
  'containerSecurityContext',
  'nodeSelector',
  'podAnnotations',
  'tolerations',
]);

/** Keys of values.yaml without a comment right above them that starts with their dotted path (helm-docs). */
const undocumentedKeys = (map: YAMLMap, prefix = ''): string[] =>
  map.items.flatMap((pair, index) => {
    if (!isScalar(pair.key)) return [String(pair.key)];
    const path = `${prefix}${String(pair.key.value)}`;
    // yaml attaches the comment above a map's first key to the map itself.
    const comment = pair.key.commentBefore ?? (index === 0 ? map.commentBefore : undefined) ?? '';
    const lastParagraph = comment.split(/\n\s*\n/).at(-1) ?? '';
    const documented = lastParagraph.trimStart().startsWith(`${path} -- `);
    const nested =
      isMap(pair.value) && !FREE_FORM.has(String(pair.key.value))
        ? undocumentedKeys(pair.value, `${path}.`)
        : [];
    return documented ? nested : [path, ...nested];
  });

type SchemaNode = { properties?: Record<string, SchemaNode>; $ref?: string; [key: string]: unknown };

/** Follows a local `#/definitions/...` reference; the schema has no other kind. */
const resolve = (root: SchemaNode, node: SchemaNode | undefined): SchemaNode | undefined => {
  if (!node?.$ref) return node;
  const target = node.$ref
    .slice(2)
    .split('/')
    .reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key], root);
  return resolve(root, target as SchemaNode | undefined);
};

/** Dotted paths of values.yaml that have no property in the schema (free-form objects are not descended into). */
const unschematized = (
  root: SchemaNode,
  values: Record<string, unknown>,
  node: SchemaNode,
  prefix = '',
): string[] =>
  Object.entries(values).flatMap(([key, value]) => {
    const path = `${prefix}${key}`;
    const property = resolve(root, node.properties?.[key]);
    if (!property) return [path];
    const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
    if (!isObject || FREE_FORM.has(key)) return [];
    return unschematized(root, value as Record<string, unknown>, property, `${path}.`);
  });

describe('values.schema.json', () => {
  it('has a property for every value of values.yaml', async () => {
    const schema = (await readSchema()) as SchemaNode;
    const values = parseDocument(await readFile(join(chartDir, 'values.yaml'), 'utf8')).toJS();
    expect(unschematized(schema, values, schema)).toEqual([]);
  });

  it('is draft-07 and refers to nothing outside itself, so it loads in an air gap', async () => {
    const schema = await readSchema();
    expect(schema).toMatchObject({ $schema: 'http://json-schema.org/draft-07/schema#' });
    for (const [pointer, object] of walk(schema)) {
      if (typeof object.$ref === 'string') expect(object.$ref, pointer).toMatch(/^#\//);
      if (typeof object.$id === 'string') expect.fail(`${pointer} sets $id`);
    }
  });

  it('rejects unknown keys in every object with fixed keys', async () => {
    for (const [pointer, object] of walk(await readSchema())) {
      if (object.properties === undefined || pointer === '/properties/global') continue;
      expect(object.additionalProperties, pointer).toBe(false);
    }
  });

  it('documents every value of values.yaml in a comment starting with its name', async () => {
    const document = parseDocument(await readFile(join(chartDir, 'values.yaml'), 'utf8'));
    if (!isMap(document.contents)) throw new Error('values.yaml is not a map');
    expect(undocumentedKeys(document.contents)).toEqual([]);
  });
});

describe.each(helmBinaries())('values validation with $name', ({ path: helm }) => {
  it.each([
    ['an unknown key in imagePull', { imagePull: { bogus: 1 } }, ['imagePull', 'bogus']],
    ['an unknown top-level key', { imagePulls: { enabled: true } }, ['imagePulls']],
    ['an unknown key in an image', { web: { image: { version: '1' } } }, ['version']],
    ['a string where a number belongs', { imagePull: { concurrency: 'two' } }, ['concurrency']],
    ['a runtime the hook cannot mount', { imagePull: { runtime: 'cri-o' } }, ['runtime']],
    [
      'a failure policy other than ignore or fail',
      { imagePull: { failurePolicy: 'retry' } },
      ['failurePolicy'],
    ],
    ['a digest without algorithm', { worker: { image: { digest: 'abc123' } } }, ['digest']],
    ['a relative images path', { imagePull: { imagesPath: 'images' } }, ['imagesPath']],
    ['a node name with upper case', { imagePull: { nodes: ['Node-A'] } }, ['nodes']],
    ['an importer mode other than bundle or image', { imagePull: { importer: { mode: 'shell' } } }, ['mode']],
    ['an architecture without runtime', { imagePull: { importer: { arch: 'riscv64' } } }, ['arch']],
    [
      'the importer image under its old key',
      { imagePull: { importerImage: { tag: '1' } } },
      ['importerImage'],
    ],
    ['a negative log retention', { imagePull: { ttlSecondsAfterFinished: -1 } }, ['ttlSecondsAfterFinished']],
  ])('rejects %s and names it', async (_case, values, named) => {
    const stderr = await renderChartError(helm, values);
    for (const word of named) expect(stderr).toContain(word);
  });
});
