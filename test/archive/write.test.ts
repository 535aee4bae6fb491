import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { list } from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyArchive, writeImageArchive } from '../../lib/archive/index.ts';
import { run } from '../../lib/exec/run.ts';
import { fixtureImage } from './fixture-image.ts';
import { sha256Hex } from './raw-tar.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-archive-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const entriesOf = async (
  file: string,
): Promise<Array<{ path: string; size: number; mode: number; mtime: number }>> => {
  const entries: Array<{ path: string; size: number; mode: number; mtime: number }> = [];
  await list({
    file,
    onReadEntry: (entry) => {
      entries.push({
        path: entry.path,
        size: entry.size ?? 0,
        mode: entry.mode ?? 0,
        mtime: entry.mtime?.getTime() ?? -1,
      });
    },
  });
  return entries;
};

const tarFile = async (file: string, path: string): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  await list({
    file,
    filter: (entryPath) => entryPath === path,
    onReadEntry: (entry) => entry.on('data', (chunk: Buffer) => chunks.push(chunk)),
  });
  return Buffer.concat(chunks);
};

describe('writeImageArchive', () => {
  it('writes entries in contract order: oci-layout, index.json, manifest.json, index, manifests, configs, layers', async () => {
    const { image, openLayer } = fixtureImage({ platforms: ['linux/amd64', 'linux/arm64'], pinned: true });
    const path = join(dir, 'fixture_1.0.tar');
    await writeImageArchive({ path, image, openLayer });

    const paths = (await entriesOf(path)).map((entry) => entry.path);
    const blob = (digest: string): string => `blobs/sha256/${digest.slice('sha256:'.length)}`;
    const [amd64, arm64] = image.manifests;
    expect(paths).toEqual([
      'oci-layout',
      'index.json',
      'manifest.json',
      blob(image.target.descriptor.digest),
      blob(amd64?.descriptor.digest ?? ''),
      blob(arm64?.descriptor.digest ?? ''),
      blob(amd64?.config.descriptor.digest ?? ''),
      blob(arm64?.config.descriptor.digest ?? ''),
      // The base layer is shared by both platforms and written once.
      blob(amd64?.layers[0]?.digest ?? ''),
      blob(amd64?.layers[1]?.digest ?? ''),
      blob(arm64?.layers[1]?.digest ?? ''),
    ]);
  });

  it('lists one index.json descriptor per name, each with the containerd name and the OCI ref name', async () => {
    const { image, openLayer } = fixtureImage({ pinned: true });
    const path = join(dir, 'fixture.tar');
    await writeImageArchive({ path, image, openLayer });

    const index = JSON.parse((await tarFile(path, 'index.json')).toString());
    const digest = image.target.descriptor.digest;
    expect(index.manifests).toEqual([
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest,
        size: image.target.descriptor.size,
        annotations: {
          'io.containerd.image.name': 'docker.io/library/airlock-fixture:1.0',
          'org.opencontainers.image.ref.name': '1.0',
        },
      },
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest,
        size: image.target.descriptor.size,
        annotations: {
          'io.containerd.image.name': `docker.io/library/airlock-fixture@${digest}`,
          'org.opencontainers.image.ref.name': digest,
        },
      },
    ]);
    expect(JSON.parse((await tarFile(path, 'oci-layout')).toString())).toEqual({
      imageLayoutVersion: '1.0.0',
    });
  });

  it('points manifest.json Config and Layers at blob files in the archive, RepoTags on the first platform only', async () => {
    const { image, openLayer } = fixtureImage({ platforms: ['linux/amd64', 'linux/arm/v7'] });
    const path = join(dir, 'fixture.tar');
    await writeImageArchive({ path, image, openLayer });

    const manifest = JSON.parse((await tarFile(path, 'manifest.json')).toString());
    const paths = new Set((await entriesOf(path)).map((entry) => entry.path));
    expect(manifest.map((entry: { RepoTags: string[] }) => entry.RepoTags)).toEqual([
      ['docker.io/library/airlock-fixture:1.0'],
      [],
    ]);
    for (const entry of manifest) {
      expect(paths.has(entry.Config)).toBe(true);
      for (const layer of entry.Layers) expect(paths.has(layer)).toBe(true);
    }
    const config = JSON.parse((await tarFile(path, manifest[1].Config)).toString());
    expect(config.variant).toBe('v7');
  });

  it('stores every blob byte-for-byte under its digest, with fixed metadata', async () => {
    const { image, openLayer } = fixtureImage();
    const path = join(dir, 'fixture.tar');
    await writeImageArchive({ path, image, openLayer });

    for (const entry of await entriesOf(path)) {
      expect(entry).toMatchObject({ mode: 0o644, mtime: 0 });
      if (!entry.path.startsWith('blobs/')) continue;
      expect(sha256Hex(await tarFile(path, entry.path))).toBe(entry.path.split('/')[2]);
    }
  });

  it('gives the same sha256 for the same image (deterministic output)', async () => {
    const { image, openLayer } = fixtureImage({ platforms: ['linux/amd64', 'linux/arm64'] });
    const first = await writeImageArchive({ path: join(dir, 'a.tar'), image, openLayer });
    const second = await writeImageArchive({ path: join(dir, 'b.tar'), image, openLayer });
    expect(second.sha256).toBe(first.sha256);
    expect(sha256Hex(await readFile(first.path))).toBe(first.sha256);
    expect((await stat(first.path)).size).toBe(first.size);
  });

  it('writes a gzip file when asked, which verifyArchive accepts', async () => {
    const { image, openLayer } = fixtureImage();
    const path = join(dir, 'fixture.tar.gz');
    const written = await writeImageArchive({ path, image, openLayer, compression: 'gzip' });
    const bytes = await readFile(path);
    expect([...bytes.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    expect(gunzipSync(bytes).length % 512).toBe(0);
    const summary = await verifyArchive(path, { sha256: written.sha256 });
    expect(summary).toMatchObject({ compressed: true, format: 'oci+docker', sha256: written.sha256 });
  });

  it('writes gzip level 0 as stored blocks that gzip itself reads back to the plain tar, the same bytes each time', async () => {
    // A layer over 65535 bytes spans several stored blocks, and starts inside one.
    const { image, openLayer } = fixtureImage({ padding: randomBytes(200_000) });
    const plain = await writeImageArchive({ path: join(dir, 'plain.tar'), image, openLayer });
    const first = await writeImageArchive({
      path: join(dir, 'a.tar.gz'),
      image,
      openLayer,
      compression: 'gzip',
    });
    const second = await writeImageArchive({
      path: join(dir, 'b.tar.gz'),
      image,
      openLayer,
      compression: 'gzip',
    });
    expect(second.sha256).toBe(first.sha256);
    await run('gzip', ['-t', first.path]);
    await run('sh', ['-c', 'gzip -dc "$1" > "$2"', 'sh', first.path, join(dir, 'back.tar')]);
    expect(sha256Hex(await readFile(join(dir, 'back.tar')))).toBe(plain.sha256);
    // Stored: 10 header bytes, 5 per block of at most 65535, a last empty block and the 8-byte trailer.
    const blocks = Math.ceil(plain.size / 65535);
    expect(first.size).toBeGreaterThanOrEqual(plain.size + 10 + 5 * blocks + 5 + 8);
    expect(first.size).toBeLessThan(plain.size + 10 + 5 * (blocks + 40) + 5 + 8);
  });

  it('compresses through zlib at a level above 0', async () => {
    const { image, openLayer } = fixtureImage({ padding: Buffer.alloc(200_000) });
    const plain = await writeImageArchive({ path: join(dir, 'plain.tar'), image, openLayer });
    const path = join(dir, 'level9.tar.gz');
    const written = await writeImageArchive({ path, image, openLayer, compression: 'gzip', gzipLevel: 9 });
    expect(written.size).toBeLessThan(plain.size / 2);
    expect(sha256Hex(gunzipSync(await readFile(path)))).toBe(plain.sha256);
  });

  it('reports progress up to the full tar size', async () => {
    const { image, openLayer } = fixtureImage();
    const seen: number[] = [];
    const written = await writeImageArchive({
      path: join(dir, 'p.tar'),
      image,
      openLayer,
      onProgress: (n) => seen.push(n),
    });
    expect(seen.at(-1)).toBe(written.size);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
  });

  it('leaves neither the final file nor a partial when aborted mid-layer', async () => {
    const { image, layers } = fixtureImage({ padding: Buffer.alloc(4 * 1024 * 1024, 1) });
    const controller = new AbortController();
    const path = join(dir, 'aborted.tar');
    let stalled: PassThrough | undefined;
    const openLayer = async (descriptor: { digest: string; size: number }): Promise<Readable> => {
      const bytes = layers.get(descriptor.digest) ?? Buffer.alloc(0);
      if (descriptor.size < 1024 * 1024) return Readable.from([bytes]);
      // The big layer stalls halfway, like a registry connection that hangs; then the user cancels.
      stalled = new PassThrough();
      stalled.write(bytes.subarray(0, bytes.length / 2));
      setTimeout(() => controller.abort(), 50);
      return stalled;
    };
    await expect(
      writeImageArchive({ path, image, openLayer, signal: controller.signal }),
    ).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(await readdir(dir)).toEqual([]);
    // The layer source is released, not left hanging.
    expect(stalled?.destroyed).toBe(true);
  });

  it('fails with DIGEST_MISMATCH and leaves no file when a layer delivers fewer bytes than its descriptor', async () => {
    const { image } = fixtureImage();
    const path = join(dir, 'short.tar');
    const openLayer = async (): Promise<Readable> => Readable.from([Buffer.from('too short')]);
    await expect(writeImageArchive({ path, image, openLayer })).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      message: expect.stringContaining('delivered 9 bytes'),
    });
    expect(await readdir(dir)).toEqual([]);
  });

  it('fails with DIGEST_MISMATCH when a layer delivers more bytes than its descriptor', async () => {
    const { image, layers } = fixtureImage();
    const openLayer = async (descriptor: { digest: string }): Promise<Readable> =>
      Readable.from([layers.get(descriptor.digest) ?? Buffer.alloc(0), Buffer.from('extra')]);
    await expect(writeImageArchive({ path: join(dir, 'long.tar'), image, openLayer })).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
    });
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses a manifest whose bytes do not match its descriptor before writing anything', async () => {
    const { image, openLayer } = fixtureImage();
    const [manifest] = image.manifests;
    if (!manifest) throw new Error('fixture without manifest');
    const tampered = { ...image, manifests: [{ ...manifest, bytes: Buffer.from(`${manifest.bytes} `) }] };
    await expect(
      writeImageArchive({ path: join(dir, 'x.tar'), image: tampered, openLayer }),
    ).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
    });
    expect(await readdir(dir)).toEqual([]);
  });

  it('fails with DISK_FULL naming the path and leaves no partial when the disk fills up', async () => {
    // A 256 KiB tmpfs is a disk that fills up for real, so the ENOSPC comes from the kernel.
    const small = join(dir, 'small');
    await mkdir(small);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', small]);
    try {
      const { image, openLayer } = fixtureImage({ padding: randomBytes(1024 * 1024) });
      const path = join(small, 'big.tar');
      await expect(writeImageArchive({ path, image, openLayer })).rejects.toMatchObject({
        code: 'DISK_FULL',
        message: expect.stringContaining(`${path}: no space left on device`),
      });
      expect(await readdir(small)).toEqual([]);
    } finally {
      await run('umount', [small]);
    }
  });

  it('refuses a digest in Docker RepoTags', async () => {
    const { image, openLayer } = fixtureImage({ pinned: true });
    const bad = { ...image, dockerRepoTags: image.names };
    await expect(
      writeImageArchive({ path: join(dir, 'x.tar'), image: bad, openLayer }),
    ).rejects.toMatchObject({
      code: 'BAD_INPUT',
    });
  });
});
