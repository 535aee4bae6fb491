import { copyFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifyArchive } from '../../lib/archive/index.ts';
import {
  type BuiltImage,
  largeLayerImage,
  ociImage,
  pushImage,
  sharedBaseImages,
} from '../../rig/factory/index.ts';
import { type FaultProxy, startFaultProxy } from '../../rig/fault-proxy.ts';
import { uniqueRepository } from '../registry/support/registries.ts';
import { readImagesJson, rig, runExport, scratch, spawnExport, writeChart } from './support.ts';

/** Work done once: shared blobs fetched once per run, finished archives kept, interrupted runs cleaned and resumed. */

const MIB = 1024 * 1024;
let proxy: FaultProxy;

const push = async (label: string, image: BuiltImage, tag = 'v1') => {
  const repository = uniqueRepository(label);
  await pushImage(image, { registry: rig.registry.host, repository, tag });
  return `${proxy.host}/${repository}:${tag}`;
};

const blobGets = (digest: string) =>
  proxy.requests.filter((request) => request.method === 'GET' && request.path.endsWith(`/blobs/${digest}`));

beforeAll(async () => {
  proxy = await startFaultProxy(rig.registry.host);
});
afterEach(() => proxy.reset());
afterAll(async () => {
  await proxy?.close();
});

describe('shared layers and re-runs', () => {
  let images: BuiltImage[];
  let references: string[];
  let chart: string;
  let output: string;

  beforeAll(async () => {
    images = await sharedBaseImages({ name: 'export-resume-shared', count: 3, baseBytes: 512 * 1024 });
    references = [];
    for (const [index, image] of images.entries())
      references.push(await push(`resume-shared-${index}`, image));
    chart = await writeChart(references.map((image, index) => ({ name: `c${index}`, image })));
    output = join(await scratch('resume'), 'images');
  });

  it('downloads a layer shared by three images once per run', async () => {
    const result = await runExport(['--chart', chart, '--output', output]);
    expect(result.code, result.stderr).toBe(0);
    const base = images[0]!.platforms[0]!.layers[0]!;
    expect(images.every((image) => image.platforms[0]!.layers[0]!.digest === base.digest)).toBe(true);
    expect(blobGets(base.digest)).toHaveLength(1);
    for (const image of images) expect(blobGets(image.platforms[0]!.layers[1]!.digest)).toHaveLength(1);
    expect((await readdir(output)).filter((file) => file.startsWith('.airlock-blobs'))).toEqual([]);
  });

  it('skips archives a previous run completed, fetching no layer again', async () => {
    const before = await readImagesJson(output);
    const mtimes = await Promise.all(before.images.map((entry) => stat(join(output, entry.file))));
    const result = await runExport(['--chart', chart, '--output', output]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('3 skipped');
    const layerGets = images.flatMap((image) =>
      image.platforms[0]!.layers.map((layer) => blobGets(layer.digest)),
    );
    expect(layerGets.flat()).toEqual([]);
    const after = await readImagesJson(output);
    expect(after.images).toEqual(before.images);
    const mtimesAfter = await Promise.all(after.images.map((entry) => stat(join(output, entry.file))));
    expect(mtimesAfter.map((info) => info.mtimeMs)).toEqual(mtimes.map((info) => info.mtimeMs));
  });

  it('re-exports an archive whose file was replaced by another image', async () => {
    const first = (await readImagesJson(output)).images[0]!;
    const second = (await readImagesJson(output)).images[1]!;
    await copyFile(join(output, second.file), join(output, first.file));
    const result = await runExport(['--chart', chart, '--output', output]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('1 exported, 2 skipped');
    const verified = await verifyArchive(join(output, first.file));
    expect(verified.images[0]?.digest).toBe(first.digest);
  });
});

describe.each(['SIGINT', 'SIGTERM'] as const)('an export interrupted by %s', (signal) => {
  let small: string;
  let large: string;
  let largeImage: BuiltImage;

  beforeAll(async () => {
    small = await push('resume-small', await ociImage({ name: 'export-resume-small' }));
    largeImage = await largeLayerImage({ name: 'export-resume-large', bytes: 4 * MIB });
    large = await push('resume-large', largeImage);
  });

  it('removes its partial files, names no half archive, and a re-run completes', async () => {
    const layer = largeImage.platforms[0]!.layers.reduce((a, b) => (a.size > b.size ? a : b));
    // The large layer stops after 1 MiB: the export is mid-transfer, its archive half written, when the signal comes.
    proxy.add({ path: new RegExp(`/blobs/${layer.digest}$`), fault: { kind: 'stall', afterBytes: MIB } });
    const chart = await writeChart([
      { name: 'small', image: small },
      { name: 'large', image: large },
    ]);
    const output = join(await scratch('interrupt'), 'images');
    const child = spawnExport(['--chart', chart, '--output', output]);

    const partialFiles = async () =>
      (await readdir(output).catch(() => [] as string[])).filter((file) => file.endsWith('.partial'));
    for (
      let waited = 0;
      (await partialFiles()).length === 0 || blobGets(layer.digest).length === 0;
      waited += 1
    ) {
      if (waited > 600)
        throw new Error(
          `no partial archive after 60 s:\n${String((await child.catch((error) => error)).stderr)}`,
        );
      await sleep(100);
    }
    await sleep(300);
    child.kill(signal);
    const result = await child;

    expect(result.exitCode, String(result.stderr)).toBe(130);
    expect(String(result.stderr)).toMatch(
      new RegExp(`^warning: ${signal} received: stopping, removing partial files`, 'm'),
    );
    const left = await readdir(output);
    expect(left.filter((file) => file.endsWith('.partial') || file.startsWith('.airlock-blobs'))).toEqual([]);
    const largeArchive = left.find((file) => file.includes('resume-large'));
    expect(largeArchive).toBeUndefined();

    const rerun = await runExport(['--chart', chart, '--output', output]);
    expect(rerun.code, rerun.stderr).toBe(0);
    const entry = (await readImagesJson(output)).images.find((image) => image.reference === large);
    const verified = await verifyArchive(join(output, entry!.file));
    expect(verified.images[0]?.digest).toBe(largeImage.digest);
  });
});

describe('an export killed with SIGKILL', () => {
  it('leaves only a hidden .partial file, which the next run removes before completing', async () => {
    const image = await largeLayerImage({ name: 'export-resume-killed', bytes: 4 * MIB });
    const reference = await push('resume-killed', image);
    const layer = image.platforms[0]!.layers.reduce((a, b) => (a.size > b.size ? a : b));
    proxy.add({ path: new RegExp(`/blobs/${layer.digest}$`), fault: { kind: 'stall', afterBytes: MIB } });
    const chart = await writeChart([{ name: 'killed', image: reference }]);
    const output = join(await scratch('killed'), 'images');
    const child = spawnExport(['--chart', chart, '--output', output]);
    const partialFiles = async () =>
      (await readdir(output).catch(() => [] as string[])).filter((file) => file.endsWith('.partial'));
    for (let waited = 0; (await partialFiles()).length === 0; waited += 1) {
      if (waited > 600) throw new Error('no partial archive after 60 s');
      await sleep(100);
    }
    child.kill('SIGKILL');
    await child;

    const [partial, ...others] = await partialFiles();
    expect(others).toEqual([]);
    expect(partial).toMatch(/^\..*resume-killed.*_v1\.tar\.gz\.\d+\.[0-9a-f]+\.partial$/);
    expect((await readdir(output)).filter((file) => file.endsWith('.tar.gz'))).toEqual([]);

    const rerun = await runExport(['--chart', chart, '--output', output]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(await partialFiles()).toEqual([]);
    const [entry] = (await readImagesJson(output)).images;
    expect((await verifyArchive(join(output, entry!.file))).images[0]?.digest).toBe(image.digest);
  });
});
