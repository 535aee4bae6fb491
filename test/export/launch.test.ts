import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildScriptBundles } from '../../lib/cli/build.ts';

// The scripts run as an operator runs them (`./scripts/export-images.ts`, an executable), in a copy of the
// repository's sources, so that a test can edit a source or mark a bundle without touching the checkout.

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const USAGE = 'Usage: ./scripts/export-images.ts [options]';

let copy: string;

const runScript = (script: string, argv: readonly string[], cwd: string = copy) =>
  execa(join(copy, 'scripts', script), argv, { cwd, reject: false, env: { CI: 'true' } });

/** Rewrites the usage line inside the built bundle: output carrying the mark came from dist/, not from lib/. */
const markBundle = async (mark: string): Promise<void> => {
  const chunks = join(copy, 'dist', 'chunks');
  let marked = 0;
  for (const name of await readdir(chunks)) {
    const text = await readFile(join(chunks, name), 'utf8');
    if (!text.includes(USAGE)) continue;
    await writeFile(join(chunks, name), text.replace(USAGE, `${mark} ${USAGE}`));
    marked += 1;
  }
  expect(marked).toBe(1);
};

const editSource = async (path: string, from: string, to: string): Promise<void> => {
  const file = join(copy, path);
  const text = await readFile(file, 'utf8');
  expect(text).toContain(from);
  await writeFile(file, text.replace(from, to));
};

beforeAll(async () => {
  copy = await mkdtemp(join(tmpdir(), 'airlock-launch-'));
  for (const entry of ['lib', 'scripts', 'importer', 'package.json', 'package-lock.json', 'tsconfig.json'])
    await cp(join(REPOSITORY_ROOT, entry), join(copy, entry), { recursive: true });
  await rm(join(copy, 'dist'), { recursive: true, force: true });
  await symlink(join(REPOSITORY_ROOT, 'node_modules'), join(copy, 'node_modules'));
});

afterAll(async () => {
  if (copy) await rm(copy, { recursive: true, force: true });
});

describe('./scripts/export-images.ts', () => {
  it('runs the TypeScript when no bundle has been built', async () => {
    const result = await runScript('export-images.ts', ['--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe(USAGE);
  });

  it('runs the bundle while every source matches the stamp, from any directory and through a symlink', async () => {
    // A root spelled with a trailing slash (as `new URL('..', import.meta.url)` gives it) is the same checkout.
    await buildScriptBundles(`${copy}/`);
    await markBundle('[bundle]');
    const direct = await runScript('export-images.ts', ['--help']);
    expect(direct.exitCode).toBe(0);
    expect(direct.stdout.split('\n')[0]).toBe(`[bundle] ${USAGE}`);

    const bin = join(copy, 'bin');
    await mkdir(bin, { recursive: true });
    await symlink(join(copy, 'scripts', 'export-images.ts'), join(bin, 'airlock-export'));
    const linked = await execa(join(bin, 'airlock-export'), ['--help'], { cwd: tmpdir(), reject: false });
    expect(linked.exitCode).toBe(0);
    expect(linked.stdout.split('\n')[0]).toBe(`[bundle] ${USAGE}`);
  });

  it('finds the checkout when run by sh from its own directory (no slash in $0), or by a relative path', async () => {
    const bySh = await execa('sh', ['export-images.ts', '--help'], {
      cwd: join(copy, 'scripts'),
      reject: false,
    });
    expect(bySh.exitCode).toBe(0);
    expect(bySh.stdout.split('\n')[0]).toContain(USAGE);
    const relative = await execa('./scripts/../scripts/export-images.ts', ['--help'], {
      cwd: copy,
      reject: false,
    });
    expect(relative.exitCode).toBe(0);
    expect(relative.stdout.split('\n')[0]).toContain(USAGE);
  });

  it('passes arguments and the exit status through: a bad flag is one line and exit 2', async () => {
    const result = await runScript('export-images.ts', ['--compression', 'zstd']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      'error: --compression: expected none or gzip, got "zstd"',
    ]);
  });

  it('never runs a bundle older than its sources: an edited source runs through tsx', async () => {
    await editSource('lib/export/options.ts', USAGE, `[edited] ${USAGE}`);
    const result = await runScript('export-images.ts', ['--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe(`[edited] ${USAGE}`);
  });

  it('treats a changed lockfile as a stale bundle', async () => {
    // The rebuilt bundle carries the edit of the test before; the mark tells it from the TypeScript.
    await buildScriptBundles(copy);
    await markBundle('[bundle]');
    expect((await runScript('export-images.ts', ['--help'])).stdout.split('\n')[0]).toBe(
      `[edited] [bundle] ${USAGE}`,
    );
    await editSource('package-lock.json', '"lockfileVersion"', '"lockfileVersion" ');
    expect((await runScript('export-images.ts', ['--help'])).stdout.split('\n')[0]).toBe(`[edited] ${USAGE}`);
  });
});

describe('./scripts/push-images.ts', () => {
  it('starts from the same bundle build', async () => {
    await buildScriptBundles(copy);
    const result = await runScript('push-images.ts', ['--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^Usage: \.\/scripts\/push-images\.ts/);
  });
});
