import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readArchiveSummary, verifyArchive } from '../../lib/archive/index.ts';
import { run } from '../../lib/exec/run.ts';
import type { ImagesJson } from '../../lib/export/outputs.ts';
import { MediaType } from '../../lib/oci/index.ts';
import { ociImage, pushImage } from '../../rig/factory/index.ts';
import { uniqueRepository } from '../registry/support/registries.ts';
import {
  type ExportRun,
  type PushedImage,
  pushEveryImageType,
  readImagesJson,
  registryManifest,
  rig,
  runExport,
  scratch,
  writeChart,
} from './support.ts';

/** Every kind of image the factory builds, exported in one run, checked against what the registry serves. */

const host = rig.registry.host;
let pushed: PushedImage[];
let pinned: PushedImage;
let output: string;
let result: ExportRun;
let imagesJson: ImagesJson;

const entryFor = (item: PushedImage) => {
  const entry = imagesJson.images.find((image) => image.reference.startsWith(`${host}/${item.repository}:`));
  if (!entry) throw new Error(`${item.label}: not in images.json`);
  return entry;
};

beforeAll(async () => {
  pushed = await pushEveryImageType('export-formats');
  const pinnedImage = await ociImage({ name: 'export-formats-pinned' });
  const repository = uniqueRepository('pinned');
  await pushImage(pinnedImage, { registry: host, repository, tag: 'v1' });
  pinned = {
    label: 'pinned',
    repository,
    tag: 'v1',
    image: pinnedImage,
    written: `${host}/${repository}:v1@${pinnedImage.digest}`,
  };
  pushed.push(pinned);

  const chart = await writeChart(pushed.map((item, index) => ({ name: `c${index}`, image: item.written })));
  output = join(await scratch('formats'), 'images');
  result = await runExport(['--chart', chart, '--output', output, '--platform', 'linux/amd64,linux/arm64']);
  imagesJson = await readImagesJson(output);
});

describe('one export of every image type', () => {
  it('exits 0 and writes one .tar.gz per image, SHA256SUMS and images.json', async () => {
    expect(result.code, result.stderr).toBe(0);
    const files = (await readdir(output)).sort();
    expect(files.filter((file) => file.endsWith('.tar.gz'))).toHaveLength(pushed.length);
    expect(files.filter((file) => !file.endsWith('.tar.gz'))).toEqual(['SHA256SUMS', 'images.json']);
  });

  it('names archives <repository path with / as _>_<tag>.tar.gz', () => {
    const nested = pushed.find((item) => item.label === 'nested')!;
    expect(nested.repository).toMatch(/^airlock-test\/nested-[a-z0-9]+\/deeper\/app$/);
    expect(entryFor(nested).file).toMatch(
      /^127\.0\.0\.1_\d+_airlock-test_nested-[a-z0-9]+_deeper_app_6\.0-rc\.1\.tar\.gz$/,
    );
  });

  it('records in images.json the digest the registry serves for each tag', async () => {
    for (const item of pushed) {
      const served = await registryManifest(host, item.repository, item.tag);
      const entry = entryFor(item);
      expect(entry.digest, item.label).toBe(served.digest);
      expect(entry.digest, item.label).toBe(item.image.digest);
      expect(entry.mediaType, item.label).toBe(item.image.mediaType);
    }
  });

  it('keeps both platforms of an OCI index and of a Docker manifest list', () => {
    for (const label of ['oci-index', 'docker-list']) {
      const entry = entryFor(pushed.find((item) => item.label === label)!);
      expect(entry.platforms, label).toEqual(['linux/amd64', 'linux/arm64/v8']);
    }
    const list = entryFor(pushed.find((item) => item.label === 'docker-list')!);
    expect(list.mediaType).toBe(MediaType.dockerManifestList);
  });

  it('fills every images.json field: reference, names, digest, platforms, size, file, sha256, sources', async () => {
    expect(imagesJson.generator).toBe('airlock');
    expect(imagesJson.chart).toEqual({ name: 'app', version: '1.2.3' });
    expect(imagesJson.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    const oci = pushed.find((item) => item.label === 'oci')!;
    const entry = entryFor(oci);
    const bytes = await readFile(join(output, entry.file));
    const sha256 = (await run('sha256sum', [join(output, entry.file)])).stdout.split(' ')[0];
    expect(entry).toEqual({
      reference: oci.written,
      references: [oci.written],
      names: [oci.written],
      digest: oci.image.digest,
      mediaType: MediaType.ociManifest,
      platforms: ['linux/amd64'],
      file: entry.file,
      size: bytes.length,
      sha256,
      sources: expect.arrayContaining([
        { kind: 'rendered', file: 'app/templates/pod.yaml', location: expect.stringMatching(/image$/) },
        { kind: 'values', file: expect.stringMatching(/app\/values\.yaml$/), location: expect.any(String) },
      ]),
    });
  });

  it('names a digest-pinned image both repo:tag and repo@sha256, with the pinned digest', async () => {
    const entry = entryFor(pinned);
    expect(entry.reference).toBe(pinned.written);
    expect(entry.names).toEqual([
      `${host}/${pinned.repository}:${pinned.tag}`,
      `${host}/${pinned.repository}@${pinned.image.digest}`,
    ]);
    const summary = await readArchiveSummary(join(output, entry.file));
    expect(summary.images[0]?.names).toEqual(entry.names);
    expect(summary.images[0]?.digest).toBe(pinned.image.digest);
  });

  it('writes archives that verify, with every layer of the many-layer image', async () => {
    for (const item of pushed) {
      const verified = await verifyArchive(join(output, entryFor(item).file));
      expect(verified.images[0]?.digest, item.label).toBe(item.image.digest);
    }
    const many = pushed.find((item) => item.label === 'many-layers')!;
    const summary = await readArchiveSummary(join(output, entryFor(many).file));
    expect(summary.compressed).toBe(true);
    expect(many.image.platforms[0]?.layers).toHaveLength(14);
  });

  it('writes SHA256SUMS that `sha256sum -c` accepts in the output directory', async () => {
    const { stdout } = await run('sha256sum', ['-c', 'SHA256SUMS'], { cwd: output });
    const lines = stdout.split('\n');
    expect(lines).toHaveLength(pushed.length);
    for (const line of lines) expect(line).toMatch(/\.tar\.gz: OK$/);
  });
});

describe('compression', () => {
  it('writes a plain .tar with --compression none, same digest', async () => {
    const oci = pushed.find((item) => item.label === 'oci')!;
    const chart = await writeChart([{ name: 'oci', image: oci.written }]);
    const plain = join(await scratch('plain'), 'images');
    const run = await runExport(['--chart', chart, '--output', plain, '--compression', 'none']);
    expect(run.code, run.stderr).toBe(0);
    const [entry] = (await readImagesJson(plain)).images;
    expect(entry?.file).toMatch(/_v1\.tar$/);
    const summary = await readArchiveSummary(join(plain, entry!.file));
    expect(summary).toMatchObject({ compressed: false, images: [{ digest: oci.image.digest }] });
  });

  it('refuses a gzip level outside 0-9 as bad input', async () => {
    const oci = pushed.find((item) => item.label === 'oci')!;
    const chart = await writeChart([{ name: 'oci', image: oci.written }]);
    const run = await runExport(['--chart', chart, '--output', join(output, 'x'), '--gzip-level', '12']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('error: --gzip-level: expected 0 to 9, got "12"\n');
  });
});
