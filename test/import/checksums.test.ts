import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { formatChecksums } from '../../lib/archive/index.ts';
import type { FixtureImage } from '../archive/fixture-image.ts';
import { releaseEnv, uniqueFixture, writeExporterArchive } from './archives.ts';
import {
  containerdImages,
  type ImportRun,
  outcomes,
  removeContainerdImages,
  resultOf,
  runImport,
} from './run-import.ts';

/** An images directory with SHA256SUMS, as the exporter writes it, after a copy that went partly wrong. */

const rig = inject('rig');
let dir: string;
const fixtures: Record<string, FixtureImage> = {};
let result: ImportRun;

const allNames = () => Object.values(fixtures).flatMap((fixture) => fixture.image.names);

const sha256Of = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-import-sums-'));
  for (const file of ['good.tar.gz', 'changed.tar.gz', 'unlisted.tar']) {
    fixtures[file] = uniqueFixture('sums');
    await writeExporterArchive(dir, file, fixtures[file]);
  }
  const goodSum = await sha256Of(join(dir, 'good.tar.gz'));
  await writeFile(
    join(dir, 'SHA256SUMS'),
    formatChecksums([
      { file: 'good.tar.gz', sha256: goodSum },
      // The sum of some other file: the archive changed after the export, or was damaged in the copy.
      { file: 'changed.tar.gz', sha256: 'f'.repeat(64) },
      { file: 'missing.tar.gz', sha256: 'e'.repeat(64) },
      // The importer runtime the exporter bundles: listed with its path, neither an archive nor noise.
      { file: 'importer/linux-amd64/bin/node', sha256: 'd'.repeat(64) },
    ]),
  );
  await mkdir(join(dir, 'importer', 'linux-amd64', 'bin'), { recursive: true });
  await writeFile(join(dir, 'importer', 'linux-amd64', 'bin', 'node'), 'a runtime file');
  await writeFile(join(dir, 'images.json'), '{"images": []}');
  await writeFile(join(dir, 'notes.txt'), 'not an archive');
  result = await runImport(
    ['--dir', dir, '--containerd-address', rig.containerd.address],
    releaseEnv(allNames()),
  );
});

afterAll(async () => {
  await removeContainerdImages(
    rig,
    Object.values(fixtures).flatMap((fixture) => fixture.image.names),
  );
  await rm(dir, { recursive: true, force: true });
});

describe('SHA256SUMS', () => {
  it('imports what matches, fails what differs or is missing, and goes on', () => {
    expect(outcomes(result.summary)).toEqual({
      'changed.tar.gz': 'failed',
      'good.tar.gz': 'imported',
      'missing.tar.gz': 'failed',
      'unlisted.tar': 'failed',
    });
    expect(result.exitCode).toBe(0);
    expect(result.lines).toContain(`3 archive(s), checked against SHA256SUMS`);
  });

  it('reports a mismatching archive with both sums and does not import it', async () => {
    expect(resultOf(result.summary, 'changed.tar.gz')).toMatchObject({
      code: 'CHECKSUM_MISMATCH',
      reason: expect.stringMatching(
        new RegExp(
          `changed\\.tar\\.gz: sha256 is [a-f0-9]{64}, SHA256SUMS expects ${'f'.repeat(64)} — .*copy it again`,
        ),
      ),
    });
    const images = await containerdImages(rig);
    for (const name of fixtures['changed.tar.gz']?.image.names ?? [])
      expect(images.has(name), name).toBe(false);
  });

  it('reports an archive listed but missing from the directory', () => {
    expect(resultOf(result.summary, 'missing.tar.gz')).toMatchObject({
      code: 'NOT_FOUND',
      reason: `listed in SHA256SUMS but missing from ${dir} — copy it again`,
    });
  });

  it('refuses an archive SHA256SUMS does not list, and does not import it', async () => {
    expect(resultOf(result.summary, 'unlisted.tar')).toMatchObject({
      code: 'NOT_ALLOWED',
      reason: `${dir}/unlisted.tar: refused: not listed in SHA256SUMS (left from an earlier export, or copied in by hand) — remove it, or export again so SHA256SUMS lists it`,
    });
    const images = await containerdImages(rig);
    for (const name of fixtures['unlisted.tar']?.image.names ?? [])
      expect(images.has(name), name).toBe(false);
  });

  it("lists files that are not archives as ignored, and not the exporter's own files", () => {
    expect(result.lines.filter((line) => line.startsWith('ignored'))).toEqual([
      'ignored   notes.txt  (not .tar, .tar.gz or .tgz)',
    ]);
  });
});

describe('without SHA256SUMS', () => {
  let bare: string;
  let fixture: FixtureImage;

  beforeAll(async () => {
    bare = await mkdtemp(join(tmpdir(), 'airlock-import-nosums-'));
    fixture = uniqueFixture('nosums');
    await writeExporterArchive(bare, 'app.tar', fixture);
  });

  afterAll(async () => {
    await removeContainerdImages(rig, fixture.image.names);
    await rm(bare, { recursive: true, force: true });
  });

  it('refuses to import, in one line that says how to fix it', async () => {
    const run = await runImport(
      ['--dir', bare, '--containerd-address', rig.containerd.address],
      releaseEnv(fixture.image.names),
    );
    expect(run.summary).toMatchObject({ imported: 0, failed: 0 });
    expect(run.lines).toContain(
      `error: ${bare}/SHA256SUMS is missing, so no archive can be checked — copy SHA256SUMS from the export next to the archives, or pass --allow-unverified (AIRLOCK_ALLOW_UNVERIFIED=true) to import without checksums`,
    );
    for (const name of fixture.image.names) expect((await containerdImages(rig)).has(name), name).toBe(false);
  });

  it('imports with --allow-unverified / AIRLOCK_ALLOW_UNVERIFIED=true, after a loud warning', async () => {
    const run = await runImport(['--dir', bare, '--containerd-address', rig.containerd.address], {
      ...releaseEnv(fixture.image.names),
      AIRLOCK_ALLOW_UNVERIFIED: 'true',
    });
    expect(outcomes(run.summary)).toEqual({ 'app.tar': 'imported' });
    expect(run.lines).toContain(
      `warning: UNVERIFIED IMPORT: ${bare}/SHA256SUMS is missing and --allow-unverified is set — archives are imported without checksums; whoever can write to ${bare} decides what this node runs`,
    );
    expect(run.lines).toContain('1 archive(s), UNVERIFIED: no SHA256SUMS');
  });
});
