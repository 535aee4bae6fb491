import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BuiltImage, largeLayerImage, pushImage } from '../../rig/factory/index.ts';
import { errorLines, runExport, writeChart } from '../export/support.ts';
import { uniqueRepository } from '../registry/support/registries.ts';
import { manifestStatus, rig, runPush, scratch } from './support.ts';

/**
 * An uncompressed archive is hashed beside its upload, not before it: a file that does not match SHA256SUMS must
 * still end without a tag, whether the damage sits in a blob (the registry refuses its digest) or between blobs.
 */

const host = rig.registry.host;
let image: BuiltImage;
let repository: string;
let images: string;
let archive: string;

beforeAll(async () => {
  // Layers: a small one (hashed while the archive is indexed) and one above the 4 MiB of a document (hashed by the
  // registry as it arrives).
  image = await largeLayerImage({ name: 'push-verify', bytes: 6 * 1024 * 1024 });
  repository = uniqueRepository('push-verify');
  await pushImage(image, { registry: host, repository, tag: 'v1' });
  const chart = await writeChart([{ name: 'app', image: `${host}/${repository}:v1` }]);
  images = join(await scratch('push-verify'), 'images');
  const exported = await runExport(['--chart', chart, '--output', images, '--compression', 'none']);
  expect(exported.code, exported.stderr).toBe(0);
  const archives = (await readdir(images)).filter((name) => name.endsWith('.tar'));
  expect(archives).toHaveLength(1);
  archive = archives[0]!;
}, 300_000);

/** A copy of the images directory with one byte of the archive flipped, `at` bytes after a layer's header. */
const damagedCopy = async (layerIndex: number, at: (layerSize: number) => number): Promise<string> => {
  const copy = join(await scratch('push-verify-damaged'), 'images');
  await cp(images, copy, { recursive: true });
  const path = join(copy, archive);
  const bytes = await readFile(path);
  const layer = image.platforms[0]!.layers[layerIndex]!;
  // The ustar header starts with the entry's name; a PAX record naming it comes before, so the last one wins.
  const header = bytes.lastIndexOf(`blobs/sha256/${layer.digest.slice('sha256:'.length)}`);
  expect(header).toBeGreaterThan(0);
  const position = header + 512 + at(layer.size);
  bytes[position] = (bytes[position] ?? 0) ^ 0xff;
  await writeFile(path, bytes);
  return copy;
};

const pushDamaged = async (dir: string) => {
  const prefix = uniqueRepository('verify');
  const result = await runPush(['--registry', `${host}/${prefix}`, '--dir', dir]);
  return { result, tag: await manifestStatus(host, `${prefix}/${repository}`, 'v1') };
};

const expectRefused = ({ result, tag }: Awaited<ReturnType<typeof pushDamaged>>) => {
  expect(result.code).toBe(1);
  expect(errorLines(result.stderr, `${archive}: sha256 is `), result.stderr).toHaveLength(1);
  expect(result.stderr).toContain('[CHECKSUM_MISMATCH]');
  expect(tag).toBe(404);
};

describe('a push of an archive that does not match SHA256SUMS', () => {
  it('names the checksum when a small layer fails its digest while the archive is read, and writes no tag', async () => {
    expectRefused(await pushDamaged(await damagedCopy(0, (size) => Math.floor(size / 2))));
  });

  it('names the checksum, not the registry, when the registry refuses a damaged large layer, and writes no tag', async () => {
    expect(image.platforms[0]!.layers[1]!.size).toBeGreaterThan(4 * 1024 * 1024);
    expectRefused(await pushDamaged(await damagedCopy(1, (size) => Math.floor(size / 2))));
  });

  it('writes no tag when the damage is outside every blob (tar padding), though every blob was accepted', async () => {
    // A gzip'ed layer of random bytes: its size is no multiple of 512, so padding follows it.
    expect(image.platforms[0]!.layers[1]!.size % 512).not.toBe(0);
    expectRefused(await pushDamaged(await damagedCopy(1, (size) => size)));
  });
});
