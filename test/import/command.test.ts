import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  IMPORT_FLAGS,
  IMPORT_USAGE,
  type ImportOptions,
  parseImportArguments,
} from '../../lib/import/options.ts';
import { WATCH_FLAGS } from '../../lib/import/watch.ts';
import type { FixtureImage } from '../archive/fixture-image.ts';
import { releaseEnv, sealDirectory, uniqueFixture, writeExporterArchive } from './archives.ts';
import { removeContainerdImages, resultOf, runImport as runImportWith, summaryLines } from './run-import.ts';

/** What an operator sees in `kubectl logs`, the exit code a Job reports, and how flags and environment combine. */

const rig = inject('rig');
const repositoryRoot = resolve(import.meta.dirname, '../..');
let dir: string;
const good: FixtureImage[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-import-command-'));
  for (const file of ['a-good.tar.gz', 'c-good.tar']) {
    const fixture = uniqueFixture('command');
    good.push(fixture);
    await writeExporterArchive(dir, file, fixture);
  }
  // Named like gzip, but plain bytes: the one failure among good archives.
  await writeFile(join(dir, 'b-bad.tar.gz'), 'not an archive at all\n');
  await writeFile(join(dir, 'notes.txt'), 'copied along by mistake\n');
  await sealDirectory(dir);
});

/** The importer as the hook runs it: the release's image list in AIRLOCK_IMAGES. */
const releaseNames = () => good.flatMap((fixture) => fixture.image.names);
const runImport = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  runImportWith(argv, { ...releaseEnv(releaseNames()), ...env });

afterAll(async () => {
  await removeContainerdImages(
    rig,
    good.flatMap((fixture) => fixture.image.names),
  );
  await rm(dir, { recursive: true, force: true });
});

const args = (...extra: string[]) => ['--dir', dir, '--containerd-address', rig.containerd.address, ...extra];

describe('importer output', () => {
  it('prints a header, one line per archive, a table and exactly one JSON summary line last', async () => {
    const { exitCode, lines, summary } = await runImport(args());
    expect(exitCode).toBe(0);
    const header = new RegExp(
      `^airlock importer \\S+ on node node-a: containerd \\S+ at ${rig.containerd.address} \\(namespace k8s\\.io\\), 3 archive\\(s\\) in ${dir}$`,
    );
    expect(lines[0]).toMatch(header);
    expect(lines).toContain('ignored   notes.txt  (not .tar, .tar.gz or .tgz)');
    for (const [file, outcome] of [
      ['a-good.tar.gz', 'imported'],
      ['b-bad.tar.gz', 'failed'],
      ['c-good.tar', 'imported'],
    ] as const) {
      const progress = lines.filter((line) => line.startsWith(`${outcome.padEnd(8)}  ${file}  `));
      expect(progress, file).toHaveLength(1);
      expect(
        lines.filter((line) =>
          new RegExp(`^${file.replace(/\./g, '\\.')} +\\S+( KiB)? +${outcome} `).test(line),
        ),
      ).toHaveLength(1);
    }
    expect(lines.find((line) => line.startsWith('failed    b-bad.tar.gz'))).toContain(
      'named like a gzip file but is not gzip-compressed',
    );
    const tableHeader = lines.findIndex((line) => /^IMAGE +SIZE +RESULT +SECONDS +REASON$/.test(line));
    const lastProgress = lines.findLastIndex((line) => /^(imported|failed|skipped) {2}/.test(line));
    expect(tableHeader).toBeGreaterThan(lastProgress);
    expect(lines.filter(Boolean).at(-1)).toBe(JSON.stringify(JSON.parse(lines.filter(Boolean).at(-1) ?? '')));
    expect(summary).toMatchObject({
      node: 'node-a',
      runtime: 'containerd',
      archives: 3,
      imported: 2,
      failed: 1,
    });
    expect(resultOf(summary, 'b-bad.tar.gz')).toMatchObject({ outcome: 'failed', code: 'ARCHIVE_CORRUPT' });
  });

  it('says in one error line which sockets it tried and why, and still prints the summary', async () => {
    const missing = join(dir, 'no-such.sock');
    const { exitCode, lines, summary } = await runImport(['--dir', dir, '--containerd-address', missing]);
    expect(exitCode).toBe(0);
    const errors = lines.filter((line) => line.startsWith('error: '));
    expect(errors).toEqual([
      `error: no container runtime answered: ${missing} (missing) — mount the node's runtime socket (imagePull.runtime / socket values)`,
    ]);
    expect(summary).toMatchObject({
      runtime: null,
      imported: 0,
      failed: 0,
      error: expect.stringContaining(missing),
    });
  });
});

describe('exit code', () => {
  it('is 0 when an image failed: the failure is reported and the release goes on', async () => {
    expect((await runImport(args())).exitCode).toBe(0);
  });

  it.each([
    ['--strict', ['--strict'], {}],
    ['AIRLOCK_STRICT=true', [], { AIRLOCK_STRICT: 'true' }],
    ['--strict over AIRLOCK_STRICT=false', ['--strict'], { AIRLOCK_STRICT: 'false' }],
  ])('is 1 when an image failed in strict mode (%s)', async (_case, extra, env) => {
    const { exitCode, summary } = await runImport(args(...extra), env);
    expect(summary.failed).toBe(1);
    expect(exitCode).toBe(1);
  });

  it('is 0 in strict mode when nothing failed', async () => {
    const clean = await mkdtemp(join(tmpdir(), 'airlock-import-clean-'));
    await sealDirectory(clean);
    try {
      expect(
        (await runImport(['--dir', clean, '--containerd-address', rig.containerd.address, '--strict']))
          .exitCode,
      ).toBe(0);
    } finally {
      await rm(clean, { recursive: true, force: true });
    }
  });

  it('is 1 in strict mode when no runtime answers', async () => {
    const { exitCode } = await runImport([
      '--dir',
      dir,
      '--containerd-address',
      join(dir, 'none.sock'),
      '--strict',
    ]);
    expect(exitCode).toBe(1);
  });

  it('is 2 for a flag it does not know, with one line on stderr and no summary', async () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const { runImportCommand } = await import('../../lib/import/command.ts');
    const exitCode = await runImportCommand(['--bogus'], {
      stdout: { write: (text: string) => stdout.push(text) } as unknown as NodeJS.WritableStream,
      stderr: { write: (text: string) => stderr.push(text) } as unknown as NodeJS.WritableStream,
      env: {},
    });
    expect(exitCode).toBe(2);
    expect(stderr.join('')).toBe('error: unknown option --bogus — see --help\n');
    expect(stdout).toEqual([]);
  });

  it('is what `npm run importer` exits with, strict through the environment as the hook Job sets it', async () => {
    const importer = (env: Record<string, string>) =>
      execa('npm', ['run', '--silent', 'importer', '--', ...args()], {
        cwd: repositoryRoot,
        reject: false,
        env: { NODE_NAME: 'node-b', ...releaseEnv(releaseNames()), ...env },
      });
    const tolerant = await importer({ AIRLOCK_STRICT: 'false' });
    expect(tolerant.exitCode, tolerant.stderr).toBe(0);
    expect(summaryLines(tolerant.stdout)).toEqual([expect.objectContaining({ node: 'node-b', failed: 1 })]);
    const strict = await importer({ AIRLOCK_STRICT: 'true' });
    expect(strict.exitCode).toBe(1);
  });
});

describe('flags and their environment twins', () => {
  // flag, its value on the command line, the environment value it beats, and the option it sets.
  const table: Array<[string, string | undefined, string, keyof ImportOptions, unknown, unknown]> = [
    ['dir', '/flag/images', '/env/images', 'dir', '/flag/images', '/env/images'],
    ['runtime', 'docker', 'containerd', 'runtime', 'docker', 'containerd'],
    ['containerd-address', '/flag.sock', '/env.sock', 'containerdAddress', '/flag.sock', '/env.sock'],
    ['namespace', 'flag-ns', 'env-ns', 'namespace', 'flag-ns', 'env-ns'],
    [
      'docker-host',
      'unix:///flag.sock',
      'unix:///env.sock',
      'dockerHost',
      'unix:///flag.sock',
      'unix:///env.sock',
    ],
    ['strict', undefined, 'false', 'strict', true, false],
    [
      'images',
      'nginx:1.25',
      'redis:7',
      'images',
      { text: 'nginx:1.25', source: '--images' },
      { text: 'redis:7', source: 'AIRLOCK_IMAGES' },
    ],
    ['allow-unverified', undefined, 'false', 'allowUnverified', true, false],
    ['concurrency', '4', '3', 'concurrency', 4, 3],
    ['retries', '0', '5', 'retries', 0, 5],
    ['timeout', '30', '90', 'timeout', 30, 90],
    ['verbose', undefined, 'false', 'verbose', true, false],
  ];

  it('has an environment twin for every flag of the usage text, and a table row for each', () => {
    const flags = [...IMPORT_USAGE.matchAll(/^ {2}--([a-z-]+)/gm)].map((match) => match[1]);
    expect(flags.sort()).toEqual(Object.keys(IMPORT_FLAGS).sort());
    expect(table.map(([flag]) => flag).sort()).toEqual(Object.keys(IMPORT_FLAGS).sort());
  });

  it('reads only environment variables the importer knows from the chart', async () => {
    const helpers = await readFile(join(repositoryRoot, 'helm/templates/image-import/_helpers.tpl'), 'utf8');
    const chartEnv = [...helpers.matchAll(/- name: (AIRLOCK_\w+)/g)].map((match) => match[1]);
    expect(chartEnv.length).toBeGreaterThan(0);
    // The keeper's watch mode adds its own two (lib/import/watch.ts).
    const known = [...Object.values(IMPORT_FLAGS), ...Object.values(WATCH_FLAGS)];
    for (const name of chartEnv) expect(known).toContain(name);
  });

  it.each(table)(
    '--%s: the environment applies alone, the flag wins over it',
    (flag, value, envValue, option, fromFlag, fromEnv) => {
      const env = { [IMPORT_FLAGS[flag as keyof typeof IMPORT_FLAGS]]: envValue };
      expect(parseImportArguments([], env)[option]).toEqual(fromEnv);
      const argv = value === undefined ? [`--${flag}`] : [`--${flag}`, value];
      expect(parseImportArguments(argv, env)[option]).toEqual(fromFlag);
    },
  );

  it('falls back to DOCKER_HOST, then to the defaults', () => {
    expect(parseImportArguments([], { DOCKER_HOST: 'unix:///docker.sock' }).dockerHost).toBe(
      'unix:///docker.sock',
    );
    expect(parseImportArguments([], {})).toEqual({
      dir: '/images',
      runtime: 'auto',
      namespace: 'k8s.io',
      strict: false,
      allowUnverified: false,
      concurrency: 1,
      retries: 2,
      timeout: 600,
      verbose: false,
      help: false,
    });
  });

  it.each([
    ['AIRLOCK_STRICT', 'maybe', 'AIRLOCK_STRICT: expected true or false, got "maybe"'],
    ['AIRLOCK_CONCURRENCY', '0', 'AIRLOCK_CONCURRENCY: expected a whole number of at least 1, got "0"'],
    ['AIRLOCK_RUNTIME', 'cri-o', 'AIRLOCK_RUNTIME: expected auto, containerd or docker, got "cri-o"'],
  ])('names the variable and the bad value: %s=%s', (name, value, message) => {
    expect(() => parseImportArguments([], { [name]: value })).toThrow(message);
  });
});
