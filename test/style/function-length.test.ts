import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TREES = ['lib', 'rig', 'importer/src', 'scripts'];
const LIMIT = 80;

/**
 * Functions still over the limit, in areas being reworked elsewhere at the moment; each entry goes once its
 * function is split. Keys are `file:function`.
 */
const ALLOWED = new Set<string>([
  // The push command and the demo are being reworked in their own branches this round.
  'lib/push/command.ts:runPushCommand',
  'scripts/demo/run.ts:runDemo',
]);

interface LongFunction {
  key: string;
  lines: number;
}

const sourceFiles = async (dir: string): Promise<string[]> => {
  const entries = await readdir(path.join(ROOT, dir), { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && /\.(ts|mts)$/.test(entry.name) && !entry.name.endsWith('.d.ts'))
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)))
    .filter((file) => !file.split(path.sep).includes('node_modules'));
};

const nameOf = (node: ts.Node, source: ts.SourceFile): string => {
  const named = node as ts.Node & { name?: ts.Node };
  if (named.name) return named.name.getText(source);
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
    return parent.name.getText(source);
  const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  return `<anonymous at line ${line}>`;
};

const isFunction = (node: ts.Node): node is ts.FunctionLikeDeclaration =>
  ts.isFunctionDeclaration(node) ||
  ts.isFunctionExpression(node) ||
  ts.isArrowFunction(node) ||
  ts.isMethodDeclaration(node) ||
  ts.isConstructorDeclaration(node) ||
  ts.isGetAccessorDeclaration(node) ||
  ts.isSetAccessorDeclaration(node);

/** Every function, arrow function, method and accessor of a file longer than the limit, from its first line to its last. */
const longFunctions = (file: string, text: string, limit = LIMIT): LongFunction[] => {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (isFunction(node) && node.body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = last - first + 1;
      if (lines > limit) found.push({ key: `${file}:${nameOf(node, source)}`, lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
};

describe('function length', () => {
  it('measures a function from its first line to its last, arrows and methods included', () => {
    const body = (count: number) => Array.from({ length: count - 2 }, (_, i) => `  call(${i});`).join('\n');
    const text = [
      `export function declared() {\n${body(81)}\n}`,
      `const arrow = () => {\n${body(81)}\n};`,
      `class Holder {\n  method() {\n${body(81)}\n  }\n}`,
      `const short = () => {\n${body(80)}\n};`,
    ].join('\n');
    expect(longFunctions('x.ts', text)).toEqual([
      { key: 'x.ts:declared', lines: 81 },
      { key: 'x.ts:arrow', lines: 81 },
      { key: 'x.ts:method', lines: 81 },
    ]);
  });

  it(`no function in ${TREES.join(', ')} is over ${LIMIT} lines`, async () => {
    const offenders: string[] = [];
    const allowedSeen = new Set<string>();
    for (const tree of TREES) {
      for (const file of await sourceFiles(tree)) {
        const key = file.split(path.sep).join('/');
        for (const found of longFunctions(key, await readFile(path.join(ROOT, file), 'utf8'))) {
          if (ALLOWED.has(found.key)) allowedSeen.add(found.key);
          else offenders.push(`${found.key} (${found.lines} lines)`);
        }
      }
    }
    expect(offenders).toEqual([]);
    // An entry whose function was split (or renamed) must leave the list, so it cannot hide a new one.
    expect([...ALLOWED].filter((key) => !allowedSeen.has(key))).toEqual([]);
  });
});
