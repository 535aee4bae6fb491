// Runs the commands README.md and OFFLINE-IMAGES.md show. Every shell block carries a marker on the line above:
//   <!-- runnable -->                       executed here, in document order, in the sandbox of ./sandbox.ts;
//   <!-- needs a cluster -->                needs a Kubernetes cluster or a real node (helm install, kubectl, rsync);
//   <!-- not run by the docs test: why -->  anything else, with the reason.
// A runnable block must exit 0; the commands below whose output a reader relies on are also checked for it.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORT_USAGE } from '../../lib/export/options.ts';
import { IMPORT_USAGE } from '../../lib/import/options.ts';
import {
  type FencedBlock,
  fencedBlocks,
  markerOf,
  readDocument,
  SHELL_LANGUAGES,
  TESTED_DOCUMENTS,
} from './markdown.ts';
import { type CommandResult, type DocsSandbox, startDocsSandbox } from './sandbox.ts';

const CHART_IMAGES = [
  'docker.io/airlock/demo-init:1.0.0',
  'docker.io/airlock/demo-metrics:1.0.0',
  'docker.io/airlock/demo-web:1.0.0',
];

let sandbox: DocsSandbox;
/** The output of the documented importer run, for the log-format test. */
let importerRun: CommandResult | undefined;

/** What the reader is promised by a command's output, beyond exit code 0. */
const EXPECTATIONS: { command: RegExp; check: (result: CommandResult) => Promise<void> | void }[] = [
  {
    command: /export-images\.ts --help/,
    check: ({ output }) => expect(output).toContain(EXPORT_USAGE.trim()),
  },
  {
    command: /export-images\.ts --list/,
    check: ({ output }) => {
      for (const image of CHART_IMAGES.filter((name) => !name.includes('importer'))) {
        expect(output).toContain(image);
      }
    },
  },
  {
    command: /export-images\.ts --importer bundle -f my-values\.yaml$/m,
    check: async ({ output }) => {
      // A second export in the same directory skips what the first one wrote.
      expect(output).toMatch(/^4 (exported|skipped);/m);
      const manifest = JSON.parse(await readFile(join(sandbox.dir, 'images/images.json'), 'utf8'));
      const references = manifest.images.map((image: { reference: string }) => image.reference);
      expect(references).toEqual(expect.arrayContaining(CHART_IMAGES));
    },
  },
  {
    command: /sha256sum -c SHA256SUMS/,
    check: ({ output }) => {
      const lines = output.trim().split('\n');
      // The four archives, and the importer runtime (--importer bundle): linux-amd64's files and run.
      const archives = lines.filter((line) => !line.startsWith('importer/'));
      expect(archives).toHaveLength(4);
      for (const line of archives) expect(line).toMatch(/\.tar\.gz: OK$/);
      expect(lines).toContain('importer/linux-amd64/bin/node: OK');
      expect(lines).toContain('importer/run: OK');
      for (const line of lines) expect(line).toMatch(/: OK$/);
    },
  },
  {
    command: /tar -tzf images\/airlock_demo-web_1\.0\.0\.tar\.gz/,
    check: ({ output }) => {
      const entries = output.trim().split('\n');
      expect(entries.slice(0, 3)).toEqual(['oci-layout', 'index.json', 'manifest.json']);
      expect(entries.slice(3)).toHaveLength(4);
      for (const entry of entries.slice(3)) expect(entry).toMatch(/^blobs\/sha256\/[0-9a-f]{64}$/);
    },
  },
  {
    command: /npm run importer -- --help/,
    check: ({ output }) => expect(output).toContain(IMPORT_USAGE.trim()),
  },
  {
    command: /npm run importer -- --dir/,
    check: (result) => {
      importerRun = result;
      expect(result.output).toMatch(/"airlock":"import-summary".*"archives":4,.*"failed":0/);
    },
  },
  {
    command: /images ls \| grep airlock\/$/m,
    check: ({ output }) => {
      for (const image of CHART_IMAGES) expect(output).toContain(`${image} `);
      expect(output).toMatch(/^docker\.io\/airlock\/demo-worker@sha256:[0-9a-f]{64} /m);
    },
  },
];

const shellBlocks = async (document: string): Promise<FencedBlock[]> =>
  fencedBlocks(document, await readDocument(document)).filter((block) => SHELL_LANGUAGES.has(block.language));

const blocksByDocument = await Promise.all(
  TESTED_DOCUMENTS.map(async (document) => ({ document, blocks: await shellBlocks(document) })),
);

beforeAll(async () => {
  sandbox = await startDocsSandbox();
}, 300_000);

afterAll(async () => {
  await sandbox?.stop();
});

it('tests the shell blocks of every page in docs/', async () => {
  const pages = (await readdir('docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`);
  expect(pages.filter((page) => !(TESTED_DOCUMENTS as readonly string[]).includes(page))).toEqual([]);
});

describe.each(blocksByDocument)('$document', ({ document, blocks }) => {
  it('marks every shell block as runnable, needing a cluster, or not run with a reason', () => {
    expect(blocks.length).toBeGreaterThan(0);
    const unmarked = blocks.filter((block) => markerOf(block) === undefined);
    expect(unmarked.map((block) => `${document}:${block.line}: ${block.comment ?? 'no marker'}`)).toEqual([]);
  });

  const runnable = blocks.filter((block) => markerOf(block) === 'runnable');
  for (const block of runnable) {
    it(`runs ${block.body.split('\n')[0]} (line ${block.line})`, async () => {
      const result = await sandbox.runBlock(block.body);
      expect(result.exitCode, `${document}:${block.line}\n${result.output}`).toBe(0);
      for (const { command, check } of EXPECTATIONS) if (command.test(block.body)) await check(result);
    });
  }
});

describe('the importer log shown in OFFLINE-IMAGES.md', () => {
  const normalizeHeader = (line: string) =>
    line
      .replace(/on node \S+:/, 'on node NODE:')
      .replace(/\/\S+/g, 'PATH')
      .replace(/\d[\w.~+-]*/g, 'N');

  it('has the header, the table and the JSON summary keys the importer prints', async () => {
    const guide = await readDocument('OFFLINE-IMAGES.md');
    const example = fencedBlocks('OFFLINE-IMAGES.md', guide).find(
      (block) => block.comment === '<!-- importer log example -->',
    );
    if (!example) throw new Error('OFFLINE-IMAGES.md has no block marked <!-- importer log example -->');
    if (!importerRun) throw new Error('the documented importer run did not happen (see the runnable blocks)');
    const shown = example.body.split('\n');
    const printed = importerRun.output
      .split('\n')
      .filter((line) => !line.startsWith('npm warn') && !/^>|^$/.test(line));
    const header = (lines: string[]) =>
      normalizeHeader(lines.find((line) => line.startsWith('airlock importer ')) ?? '');
    expect(header(shown)).not.toBe('');
    expect(header(shown)).toBe(header(printed));
    const tableHeader = (lines: string[]) => lines.find((line) => line.startsWith('IMAGE '))?.split(/\s+/);
    expect(tableHeader(shown)).toEqual(tableHeader(printed));
    const summary = (lines: string[]) =>
      JSON.parse(lines.find((line) => line.startsWith('{"airlock"')) ?? '{}');
    const shownSummary = summary(shown);
    const printedSummary = summary(printed);
    expect(Object.keys(shownSummary).sort()).toEqual(Object.keys(printedSummary).sort());
    // Each outcome's keys, wherever it stands in the list: the guide's example and this run skip different archives.
    type Result = Record<string, unknown>;
    const keysOf = (results: Result[], outcome: unknown) =>
      Object.keys(results.find((result) => result.outcome === outcome) ?? {}).sort();
    const outcomes = (printedSummary.results as Result[]).map((result) => result.outcome);
    const shared = outcomes.filter((outcome) => keysOf(shownSummary.results, outcome).length > 0);
    expect(shared.length).toBeGreaterThan(0);
    for (const outcome of shared)
      expect(keysOf(shownSummary.results, outcome)).toEqual(keysOf(printedSummary.results, outcome));
  });
});
