import { chmod, copyFile, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { helmVersion } from '../../lib/discover/helm-template.ts';

/** `helm version` asked once per binary: the rig's real Helm 3, copied so that the test may change it. */

const rig = inject('rig');
const saved = { cache: process.env.AIRLOCK_CACHE_DIR, path: process.env.PATH };
let dir: string;
let helm: string;
let cacheFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-helm-version-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  const cacheDir = await mkdtemp(join(dir, 'cache-'));
  process.env.AIRLOCK_CACHE_DIR = cacheDir;
  cacheFile = join(cacheDir, 'helm-versions.json');
  const bin = await mkdtemp(join(dir, 'bin-'));
  helm = join(bin, 'helm');
  await copyFile(rig.helm.v3.path, helm);
  await chmod(helm, 0o755);
});
afterEach(() => {
  process.env.AIRLOCK_CACHE_DIR = saved.cache;
  process.env.PATH = saved.path;
});

// rig.helm.v3.version is 'v3.17.2'; helm adds its build, 'v3.17.2+gcc0bbbd'.
const versionOfRig = () => new RegExp(`^${rig.helm.v3.version.replaceAll('.', '\\.')}\\+g[0-9a-f]+$`);

describe('helmVersion', () => {
  it('asks helm the first time and records the answer for that file', async () => {
    const version = await helmVersion(helm);
    expect(version).toMatch(versionOfRig());
    const cache = JSON.parse(await readFile(cacheFile, 'utf8'));
    expect(cache[helm]).toMatchObject({ version });
  });

  it('answers from the record while the file is unchanged, and asks again once it changed in place', async () => {
    await helmVersion(helm);
    // A record helm itself would never print: an answer that carries it came from the record.
    const cache = JSON.parse(await readFile(cacheFile, 'utf8'));
    cache[helm].version = 'v0.0.0-recorded';
    await writeFile(cacheFile, JSON.stringify(cache));
    expect(await helmVersion(helm)).toBe('v0.0.0-recorded');
    await utimes(helm, new Date(), new Date(Date.now() + 60_000));
    expect(await helmVersion(helm)).toMatch(versionOfRig());
    expect(JSON.parse(await readFile(cacheFile, 'utf8'))[helm].version).toMatch(versionOfRig());
  });

  it('finds `helm` on PATH and records it under the file PATH led to', async () => {
    process.env.PATH = `${join(helm, '..')}:${saved.path}`;
    const version = await helmVersion('helm');
    expect(version).toMatch(versionOfRig());
    expect(Object.keys(JSON.parse(await readFile(cacheFile, 'utf8')))).toEqual([helm]);
  });

  it('asks helm when the record is damaged, and writes a good one', async () => {
    await writeFile(cacheFile, '{ not json');
    expect(await helmVersion(helm)).toMatch(versionOfRig());
    expect(JSON.parse(await readFile(cacheFile, 'utf8'))[helm].version).toMatch(versionOfRig());
    // An entry that matches the file but holds no version string is asked again too.
    const cache = JSON.parse(await readFile(cacheFile, 'utf8'));
    cache[helm].version = 42;
    await writeFile(cacheFile, JSON.stringify(cache));
    expect(await helmVersion(helm)).toMatch(versionOfRig());
  });

  it('still answers when the record cannot be written', async () => {
    // A directory under a file: mkdir fails with ENOTDIR.
    process.env.AIRLOCK_CACHE_DIR = join(helm, 'cache');
    expect(await helmVersion(helm)).toMatch(versionOfRig());
  });
});
