import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImagesJsonEntry } from '../../lib/export/outputs.ts';
import { imageStatus } from '../../rig/cri.ts';
import { type BuiltImage, ociImage, pushImage } from '../../rig/factory/index.ts';
import { uniqueRepository } from '../registry/support/registries.ts';
import {
  containerdImages,
  ctrImport,
  ctrRemove,
  docker,
  dockerRemove,
  type PushedImage,
  pushEveryImageType,
  readImagesJson,
  registryManifest,
  rig,
  runExport,
  scratch,
  writeChart,
} from './support.ts';

/** Exported archives loaded for real: `docker load` into the rig's dockerd, `gunzip | ctr import` into its containerd. */

interface Exported extends PushedImage {
  entry: ImagesJsonEntry;
}

const host = rig.registry.host;
const exported: Exported[] = [];
let output: string;

const amd64Config = (image: BuiltImage): string => {
  const platform = image.platforms.find((candidate) => candidate.platform.architecture === 'amd64');
  if (!platform) throw new Error('factory image without linux/amd64');
  return platform.config.digest;
};

beforeAll(async () => {
  const written = await pushEveryImageType('export-runtimes');
  const chart = await writeChart(written.map((item, index) => ({ name: `c${index}`, image: item.written })));
  output = join(await scratch('runtimes'), 'images');
  const result = await runExport([
    '--chart',
    chart,
    '--output',
    output,
    '--platform',
    'linux/amd64,linux/arm64',
  ]);
  if (result.code !== 0) throw new Error(`export failed:\n${result.stderr}`);
  const { images: entries } = await readImagesJson(output);
  for (const item of written) {
    const entry = entries.find((candidate) => candidate.reference === item.written);
    if (!entry) throw new Error(`${item.written} not exported`);
    exported.push({ ...item, entry });
  }
});

afterAll(async () => {
  const names = exported.flatMap((item) => item.entry.names);
  await ctrRemove(names);
  await dockerRemove(names);
});

describe('gunzip | ctr -n k8s.io images import', () => {
  it('creates every image under its name with the manifest digest the registry serves', async () => {
    for (const item of exported) await ctrImport(join(output, item.entry.file));
    const images = await containerdImages();
    for (const item of exported) {
      const served = await registryManifest(host, item.repository, item.tag);
      expect(images.get(item.written), item.label).toBe(served.digest);
    }
  });

  it('answers CRI ImageStatus for each name as kubelet asks, with the amd64 config as image ID', async () => {
    for (const item of exported) {
      const status = await imageStatus(rig.containerd.address, item.written);
      expect(status.found, item.label).toBe(true);
      expect(status.id, item.label).toBe(amd64Config(item.image));
    }
  });
});

describe('docker load', () => {
  it('loads every archive, the name resolving to the amd64 config digest as image ID', async () => {
    for (const item of exported) {
      const { stdout } = await docker('load', '--input', join(output, item.entry.file));
      expect(stdout, item.label).toContain(`Loaded image: ${item.written}`);
      const inspected = await docker(
        'image',
        'inspect',
        '--format',
        '{{.Id}} {{.Os}}/{{.Architecture}}',
        item.written,
      );
      expect(inspected.stdout, item.label).toBe(`${amd64Config(item.image)} linux/amd64`);
    }
  });

  it('shares the base layer of two images in the daemon (same layer digest in both RootFS)', async () => {
    const layersOf = async (name: string) =>
      (await docker('image', 'inspect', '--format', '{{json .RootFS.Layers}}', name)).stdout;
    const [first, second] = exported.filter((item) => item.label.startsWith('shared-'));
    const firstLayers = JSON.parse(await layersOf(first!.written)) as string[];
    const secondLayers = JSON.parse(await layersOf(second!.written)) as string[];
    expect(firstLayers[0]).toBe(secondLayers[0]);
    expect(firstLayers[1]).not.toBe(secondLayers[1]);
  });
});

describe('a digest-pinned reference', () => {
  let pinned: { written: string; byDigest: string; byTag: string; digest: string };

  beforeAll(async () => {
    const image = await ociImage({ name: 'runtimes-pinned' });
    const repository = uniqueRepository('rt-pinned');
    await pushImage(image, { registry: host, repository, tag: '1.0' });
    pinned = {
      written: `${host}/${repository}:1.0@${image.digest}`,
      byDigest: `${host}/${repository}@${image.digest}`,
      byTag: `${host}/${repository}:1.0`,
      digest: image.digest,
    };
    const chart = await writeChart([{ name: 'pinned', image: pinned.written }]);
    const pinnedOutput = join(await scratch('pinned'), 'images');
    const result = await runExport(['--chart', chart, '--output', pinnedOutput]);
    if (result.code !== 0) throw new Error(`export failed:\n${result.stderr}`);
    const [entry] = (await readImagesJson(pinnedOutput)).images;
    await ctrImport(join(pinnedOutput, entry!.file));
  });

  afterAll(async () => {
    await ctrRemove([pinned.byTag, pinned.byDigest]);
  });

  it('is present after ctr import under repo@sha256, as CRI ImageStatus reports to kubelet', async () => {
    const images = await containerdImages();
    expect(images.get(pinned.byDigest)).toBe(pinned.digest);
    expect(images.get(pinned.byTag)).toBe(pinned.digest);
    for (const asked of [pinned.written, pinned.byDigest]) {
      const status = await imageStatus(rig.containerd.address, asked);
      expect(status.found, asked).toBe(true);
      expect(status.repoDigests, asked).toContain(pinned.byDigest);
    }
  });
});

describe('one image named by tag and by digest in one chart', () => {
  let both: { byTag: string; byDigest: string; digest: string; files: string[]; entries: ImagesJsonEntry[] };

  beforeAll(async () => {
    const image = await ociImage({ name: 'runtimes-both-names' });
    const repository = uniqueRepository('rt-both');
    await pushImage(image, { registry: host, repository, tag: '2.0' });
    const byTag = `${host}/${repository}:2.0`;
    const byDigest = `${host}/${repository}@${image.digest}`;
    const chart = await writeChart([
      { name: 'tagged', image: byTag },
      { name: 'pinned', image: byDigest },
    ]);
    const bothOutput = join(await scratch('both-names'), 'images');
    const result = await runExport(['--chart', chart, '--output', bothOutput]);
    if (result.code !== 0) throw new Error(`export failed:\n${result.stderr}`);
    const files = (await readdir(bothOutput)).filter((file) => file.endsWith('.tar.gz'));
    for (const file of files) await ctrImport(join(bothOutput, file));
    const { images: entries } = await readImagesJson(bothOutput);
    both = { byTag, byDigest, digest: image.digest, files, entries };
  });

  afterAll(async () => {
    await ctrRemove([both.byTag, both.byDigest]);
  });

  it('writes one archive, listed once in images.json with both references', () => {
    expect(both.files).toHaveLength(1);
    expect(both.entries).toHaveLength(1);
    expect(both.entries[0]).toMatchObject({
      reference: both.byTag,
      references: [both.byTag, both.byDigest],
      names: [both.byTag, both.byDigest],
      digest: both.digest,
    });
  });

  it('creates both names in containerd from that one archive, on the one digest', async () => {
    const images = await containerdImages();
    expect(images.get(both.byTag)).toBe(both.digest);
    expect(images.get(both.byDigest)).toBe(both.digest);
    for (const asked of [both.byTag, both.byDigest]) {
      expect((await imageStatus(rig.containerd.address, asked)).found, asked).toBe(true);
    }
  });
});
