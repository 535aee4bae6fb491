import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importArchives } from '../../lib/import/import.ts';
import { silentLogger } from '../../lib/report/log.ts';
import { createContainerdRuntime } from '../../lib/runtime/index.ts';
import { imageStatus } from '../../rig/cri.ts';
import { ociImage, pushImage } from '../../rig/factory/index.ts';
import { operatorChart, operatorImages } from '../discover/fixtures.ts';
import { removeContainerdImages } from '../import/run-import.ts';
import { uniqueRepository } from '../registry/support/registries.ts';
import { readImagesJson, registryManifest, rig, runExport, scratch } from './support.ts';

/**
 * An operator chart whose controller gets images in its args, env and a mounted ConfigMap, exported from the rig's
 * registry and imported into its containerd: the pods the controller starts later find their images.
 */

const host = rig.registry.host;
const org = uniqueRepository('op');
const images = operatorImages({ registry: host, org });
const solver = `${host}/${org}/op-solver:1.0.0`;
const executor = `${host}/${org}/op-executor:2.0.0`;
let chart: string;

const pathOf = (reference: string) => reference.slice(host.length + 1).split(':')[0] ?? '';
const tagOf = (reference: string) => reference.split(':').at(-1) ?? '';

beforeAll(async () => {
  // In a directory of this file's (writeTree's are removed after each test): every test here exports it.
  const root = await scratch('operator-chart');
  for (const [path, content] of Object.entries(operatorChart({ registry: host, org }))) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  chart = join(root, 'op');
  for (const reference of images) {
    const image = await ociImage({ name: `${org}-${pathOf(reference)}` });
    await pushImage(image, { registry: host, repository: pathOf(reference), tag: tagOf(reference) });
  }
});

afterAll(async () => {
  await removeContainerdImages(rig, images);
});

describe('exporting an operator chart', () => {
  it('exports the images of args, env and ConfigMap; imported, CRI ImageStatus finds the args-only ones', async () => {
    const output = await scratch('operator');
    const result = await runExport(['--chart', chart, '--output', output]);
    expect(result.code, result.stderr).toBe(0);
    const manifest = await readImagesJson(output);
    expect(manifest.images.map((entry) => entry.reference).sort()).toEqual(images);
    const solverEntry = manifest.images.find((entry) => entry.reference === solver);
    expect(solverEntry?.sources[0]).toEqual({
      kind: 'rendered',
      file: 'op/templates/deployment.yaml',
      location:
        'Deployment/airlock-op: args of container manager: --solver-image (spec.template.spec.containers[0].args[0])',
    });

    await removeContainerdImages(rig, images);
    const report = await importArchives({
      dir: output,
      runtime: createContainerdRuntime({ address: rig.containerd.address }),
      concurrency: 2,
      retries: 0,
      timeoutMs: 60_000,
      logger: silentLogger,
    });
    expect(report.results.map((entry) => entry.outcome)).toEqual(images.map(() => 'imported'));
    for (const reference of [solver, executor]) {
      const status = await imageStatus(rig.containerd.address, reference);
      expect(status.found, reference).toBe(true);
      expect(status.repoTags).toContain(reference);
    }
  });
});

describe('the digest lockfile', () => {
  let lockFile: string;

  it('--lock writes every reference with the digest its tag resolved to', async () => {
    lockFile = join(await scratch('lock'), 'images.lock.json');
    const result = await runExport([
      '--chart',
      chart,
      '--output',
      await scratch('lock-out'),
      '--lock',
      lockFile,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const expected = [];
    for (const reference of images) {
      const { digest } = await registryManifest(host, pathOf(reference), tagOf(reference));
      expected.push({ reference, digest });
    }
    expect(JSON.parse(await readFile(lockFile, 'utf8'))).toEqual({ lockfileVersion: 1, images: expected });
  });

  it('--lock with --dry-run writes the same lockfile without downloading a layer', async () => {
    const dryLock = join(await scratch('dry-lock'), 'images.lock.json');
    const output = await scratch('dry-lock-out');
    const result = await runExport(['--chart', chart, '--output', output, '--dry-run', '--lock', dryLock]);
    expect(result.code, result.stderr).toBe(0);
    expect(await readFile(dryLock, 'utf8')).toBe(await readFile(lockFile, 'utf8'));
    expect(await readdir(output)).toEqual([]);
  });

  it('--locked exports exactly the locked digests', async () => {
    const output = await scratch('locked');
    const result = await runExport(['--chart', chart, '--output', output, '--locked', lockFile]);
    expect(result.code, result.stderr).toBe(0);
    const lock = JSON.parse(await readFile(lockFile, 'utf8')) as {
      images: { reference: string; digest: string }[];
    };
    const exported = (await readImagesJson(output)).images.map(({ reference, digest }) => ({
      reference,
      digest,
    }));
    expect(exported.sort((a, b) => a.reference.localeCompare(b.reference))).toEqual(lock.images);
  });

  it('--locked refuses a chart image the lockfile does not cover, as bad input', async () => {
    const partial = join(await scratch('lock-partial'), 'partial.json');
    await writeFile(partial, JSON.stringify({ lockfileVersion: 1, images: [] }));
    const result = await runExport([
      '--chart',
      chart,
      '--output',
      await scratch('partial-out'),
      '--locked',
      partial,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n').filter((line) => line.startsWith('error: '))).toEqual([
      `error: ${partial}: no digest locked for ${images.join(', ')} — re-run with --lock ${partial} to lock the chart's images`,
    ]);
  });

  it('--locked fails when a tag has moved, naming the image and both digests, and exports nothing', async () => {
    const before = await registryManifest(host, pathOf(solver), '1.0.0');
    await pushImage(await ociImage({ name: `${org}-solver-moved` }), {
      registry: host,
      repository: pathOf(solver),
      tag: '1.0.0',
    });
    const after = await registryManifest(host, pathOf(solver), '1.0.0');
    expect(after.digest).not.toBe(before.digest);

    const output = await scratch('moved');
    const result = await runExport(['--chart', chart, '--output', output, '--locked', lockFile]);
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n').filter((line) => line.startsWith('error: '))).toEqual([
      `error: ${solver}: tag moved: ${lockFile} locks ${before.digest}, the registry now serves ${after.digest} — check the new image, then re-run with --lock ${lockFile} to accept it [DIGEST_MISMATCH]`,
    ]);
    expect(await readdir(output)).toEqual([]);
  });
});
