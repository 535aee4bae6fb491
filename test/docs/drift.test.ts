// Keeps OFFLINE-IMAGES.md in step with the code: every flag, environment variable, config key, chart value and
// error message the guide speaks of must exist, and everything an operator can set must be in the guide.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import toml from '@iarna/toml';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { RUNTIME_ENVIRONMENT } from '../../lib/bundle/cache.ts';
import { ConfigFile } from '../../lib/config/index.ts';
import { EXPORT_USAGE } from '../../lib/export/options.ts';
import { IMPORT_FLAGS, IMPORT_USAGE } from '../../lib/import/options.ts';
import { WATCH_FLAGS, WATCH_USAGE } from '../../lib/import/watch.ts';
import { REPOSITORY_ROOT } from '../../scripts/build-importer-image.ts';
import { codeSpans, fencedBlocks, firstCells, readDocument, section } from './markdown.ts';

let guide: string;
let librarySource: string;

const readTree = async (dir: string): Promise<string[]> => {
  const texts: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) texts.push(...(await readTree(path)));
    else if (entry.name.endsWith('.ts')) texts.push(await readFile(path, 'utf8'));
  }
  return texts;
};

/** `--flag` and `-f` tokens at the start of each option line of a usage text. */
const usageFlags = (usage: string): string[] =>
  usage
    .split('\n')
    .filter((line) => /^\s+-/.test(line))
    .flatMap(
      (line) => (line.trim().split(/\s{2,}|\s(?=[A-Z(])/)[0] ?? '').match(/(?<![\w-])--?[a-z][\w-]*/g) ?? [],
    );

/** Flags named in the first column of the tables under a heading. */
const tableFlags = (heading: string): string[] =>
  firstCells(section(guide, heading))
    .flatMap(codeSpans)
    .flatMap((span) => span.match(/^--?[a-z][\w-]*/) ?? []);

/** The table row (the whole line) whose first cell names `name` in backquotes, alone or before an argument. */
const tableRow = (heading: string, name: string): string | undefined =>
  section(guide, heading)
    .split('\n')
    .find((line) => {
      const first = line.split(/(?<!\\)\|/)[1] ?? '';
      return codeSpans(first).some((span) => span === name || span.startsWith(`${name} `));
    });

/** `(default: X)` or `(env A; default X)` of each option line, by its long flag. */
const usageDefaults = (usage: string): [flag: string, value: string][] =>
  usage.split('\n').flatMap((line) => {
    const flag = /^\s+(?:-\w, )?(--[\w-]+)/.exec(line)?.[1];
    const value = /default:? ([^;)]+)\)/.exec(line)?.[1]?.trim().split(' ')[0];
    return flag && value ? [[flag, value] as [string, string]] : [];
  });

const documents = (flag: string): boolean => new RegExp(`\`${flag}(?![\\w-])`).test(guide);

beforeAll(async () => {
  guide = await readDocument('OFFLINE-IMAGES.md');
  librarySource = (await readTree(join(REPOSITORY_ROOT, 'lib'))).join('\n');
});

describe('OFFLINE-IMAGES.md against the exporter', () => {
  it('documents every flag of the exporter usage text', () => {
    const flags = usageFlags(EXPORT_USAGE);
    expect(flags).toContain('--chart');
    expect(flags.filter((flag) => !documents(flag))).toEqual([]);
  });

  it('gives each exporter option the default the usage text gives', () => {
    const defaults = usageDefaults(EXPORT_USAGE);
    expect(defaults.map(([flag]) => flag)).toContain('--compression');
    const wrong = defaults.filter(
      ([flag, value]) => !tableRow('### Exporter options', flag)?.includes(value),
    );
    expect(wrong).toEqual([]);
  });

  it('lists in its exporter options table only flags the exporter has', () => {
    const flags = tableFlags('### Exporter options');
    expect(flags.length).toBeGreaterThan(10);
    expect(flags.filter((flag) => !usageFlags(EXPORT_USAGE).includes(flag))).toEqual([]);
  });

  it('documents every key of config.example.toml and of the config schema, and no other', async () => {
    const example = toml.parse(await readFile(join(REPOSITORY_ROOT, 'config.example.toml'), 'utf8'));
    const keys = [...new Set([...Object.keys(example), ...Object.keys(ConfigFile.shape)])];
    const table = firstCells(section(guide, '### config.toml')).flatMap(codeSpans);
    expect(keys.filter((key) => !table.includes(key))).toEqual([]);
    expect(table.filter((key) => !keys.includes(key))).toEqual([]);
  });

  it('gives each config.toml key the default config.example.toml sets', async () => {
    const example = toml.parse(await readFile(join(REPOSITORY_ROOT, 'config.example.toml'), 'utf8'));
    const wrong = Object.entries(example).filter(
      ([key, value]) => !tableRow('### config.toml', key)?.includes(`\`${JSON.stringify(value)}\``),
    );
    expect(wrong).toEqual([]);
  });

  it('shows config.toml examples the config schema accepts', () => {
    const examples = fencedBlocks('OFFLINE-IMAGES.md', guide).filter((block) => block.language === 'toml');
    expect(examples.length).toBeGreaterThan(0);
    for (const example of examples) {
      const parsed = ConfigFile.safeParse(toml.parse(example.body));
      expect(parsed.error?.message, `OFFLINE-IMAGES.md:${example.line}`).toBeUndefined();
    }
  });
});

// The importer's whole usage text: its import flags, and watch mode's (the keeper).
const IMPORTER_USAGE = `${IMPORT_USAGE}${WATCH_USAGE}`;

describe('OFFLINE-IMAGES.md against the importer', () => {
  it('documents every flag of the importer usage text', () => {
    const flags = usageFlags(IMPORTER_USAGE);
    expect(flags).toContain('--dir');
    expect(flags.filter((flag) => !documents(flag))).toEqual([]);
  });

  it('gives each importer flag the default the usage text gives', () => {
    const defaults = usageDefaults(IMPORTER_USAGE);
    expect(defaults.map(([flag]) => flag)).toContain('--timeout');
    const wrong = defaults.filter(
      ([flag, value]) => !tableRow('### Running the importer by hand', flag)?.includes(`\`${value}\``),
    );
    expect(wrong).toEqual([]);
  });

  it('lists in its importer table only flags the importer has', () => {
    const known = [...usageFlags(IMPORTER_USAGE), '-h', '--help'];
    const flags = tableFlags('### Running the importer by hand');
    expect(flags.length).toBeGreaterThan(5);
    expect(flags.filter((flag) => !known.includes(flag))).toEqual([]);
  });

  it('documents the environment variable of every importer flag, and no unknown AIRLOCK_ variable', () => {
    const variables: string[] = [
      ...Object.values(IMPORT_FLAGS),
      ...Object.values(WATCH_FLAGS),
      ...RUNTIME_ENVIRONMENT,
    ];
    expect(variables.filter((variable) => !guide.includes(`\`${variable}\``))).toEqual([]);
    const mentioned = [...new Set(guide.match(/\bAIRLOCK_[A-Z_]+/g) ?? [])];
    expect(mentioned.filter((variable) => !variables.includes(variable))).toEqual([]);
  });
});

describe('OFFLINE-IMAGES.md against the chart', () => {
  // values.yaml documents each key in a comment above it: `# imagePull.containerd.socket -- ...`.
  const documentedValues = async (): Promise<string[]> => {
    const values = await readFile(join(REPOSITORY_ROOT, 'helm/values.yaml'), 'utf8');
    return [...values.matchAll(/^\s*# (imagePull(?:\.[A-Za-z]+)*) --/gm)].map((match) => match[1] ?? '');
  };

  it('documents every imagePull value of helm/values.yaml', async () => {
    const keys = await documentedValues();
    expect(keys).toContain('imagePull.enabled');
    // A key whose children are documented one by one (imagePull.containerd) is covered by them.
    const leaves = keys.filter(
      (key) => key !== 'imagePull' && !keys.some((other) => other.startsWith(`${key}.`)),
    );
    expect(leaves.filter((key) => !guide.includes(`\`${key}\``))).toEqual([]);
  });

  it('gives each scalar imagePull value the default helm/values.yaml sets', async () => {
    const values = parseYaml(await readFile(join(REPOSITORY_ROOT, 'helm/values.yaml'), 'utf8'));
    const valueAt = (key: string): unknown =>
      key
        .split('.')
        .reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], values);
    const scalars = (await documentedValues())
      .map((key): [string, unknown] => [key, valueAt(key)])
      .filter(([, value]) => value !== null && typeof value !== 'object');
    expect(scalars.length).toBeGreaterThan(10);
    const shown = (value: unknown) => (value === '' ? '""' : String(value));
    const wrong = scalars.filter(
      ([key, value]) =>
        !tableRow('### Chart values of the import hook', key)?.includes(`\`${shown(value)}\``),
    );
    expect(wrong).toEqual([]);
  });

  it('names only imagePull values that helm/values.yaml has', async () => {
    const keys = await documentedValues();
    const mentioned = [...new Set(guide.match(/\bimagePull(?:\.[A-Za-z]+)+/g) ?? [])];
    expect(mentioned.length).toBeGreaterThan(10);
    expect(mentioned.filter((key) => !keys.includes(key))).toEqual([]);
  });
});

describe('OFFLINE-IMAGES.md troubleshooting', () => {
  const entries = () =>
    section(guide, '## Troubleshooting')
      .split('\n')
      .filter((line) => line.startsWith('### `'))
      .map((line) => {
        const [code = '', message = ''] = codeSpans(line);
        return { line, code, message };
      });

  it('quotes only error codes lib/errors.ts defines and messages lib/ still prints', async () => {
    const errors = await readFile(join(REPOSITORY_ROOT, 'lib/errors.ts'), 'utf8');
    const found = entries();
    expect(found.length).toBeGreaterThan(8);
    for (const { line, code, message } of found) {
      expect(errors, line).toContain(`'${code}'`);
      expect(message, line).not.toBe('');
      expect(librarySource.includes(message), `${line}: message not found in lib/`).toBe(true);
    }
  });

  it('covers every error code an operator meets', async () => {
    const errors = await readFile(join(REPOSITORY_ROOT, 'lib/errors.ts'), 'utf8');
    const union = errors.slice(
      errors.indexOf('export type ErrorCode'),
      errors.indexOf(';', errors.indexOf('export type ErrorCode')),
    );
    const codes = [...union.matchAll(/'([A-Z_]+)'/g)].map((match) => match[1] ?? '');
    // Bad flags, a missing tool and bugs print their own one-line explanation, with no runbook to add.
    const selfExplaining = [
      'BAD_INPUT',
      'COMMAND_FAILED',
      'REFERENCE_INVALID',
      'TOOL_MISSING',
      'UNSUPPORTED',
    ];
    const covered = new Set(entries().map((entry) => entry.code));
    expect(codes.filter((code) => !selfExplaining.includes(code) && !covered.has(code))).toEqual([]);
  });
});
