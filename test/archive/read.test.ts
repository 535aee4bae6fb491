import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  openTarStream,
  readArchiveSummary,
  verifyArchive,
  writeImageArchive,
} from '../../lib/archive/index.ts';
import { fixtureImage } from './fixture-image.ts';
import { minimalLayout, rawTar, sha256Hex } from './raw-tar.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-read-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readArchiveSummary', () => {
  it('names every image of an airlock archive with its digest and Docker image ID', async () => {
    const { image, openLayer } = fixtureImage({
      pinned: true,
      repository: 'registry.example.com:5000/team/app',
    });
    const { path } = await writeImageArchive({
      path: join(dir, 'app.tar.gz'),
      image,
      openLayer,
      compression: 'gzip',
    });
    expect(await readArchiveSummary(path)).toEqual({
      path,
      compressed: true,
      format: 'oci+docker',
      images: [
        {
          names: [
            'registry.example.com:5000/team/app:1.0',
            `registry.example.com:5000/team/app@${image.target.descriptor.digest}`,
          ],
          digest: image.target.descriptor.digest,
          configDigest: image.manifests[0]?.config.descriptor.digest,
        },
      ],
    });
  });

  it('stops after index.json and manifest.json, so it never reads the layers', async () => {
    const { image, openLayer } = fixtureImage({ padding: Buffer.alloc(1024 * 1024, 7) });
    const written = await writeImageArchive({ path: join(dir, 'app.tar'), image, openLayer });
    // Cut the file inside the layers: a full pass would fail, the summary must not notice.
    await truncate(written.path, written.size - 100_000);
    await expect(readArchiveSummary(written.path)).resolves.toMatchObject({ format: 'oci+docker' });
    await expect(verifyArchive(written.path)).rejects.toMatchObject({ code: 'ARCHIVE_CORRUPT' });
  });

  it('reads an OCI layout whose ref.name is a whole reference, and ignores a bare tag', async () => {
    const entries = minimalLayout();
    const indexEntry = entries[1];
    if (!indexEntry) throw new Error('layout without index');
    const index = JSON.parse(String(indexEntry.body));
    const descriptor = index.manifests[0];
    index.manifests = [
      { ...descriptor, annotations: { 'org.opencontainers.image.ref.name': 'quay.io/team/tool:3' } },
      { ...descriptor, annotations: { 'org.opencontainers.image.ref.name': '3' } },
    ];
    indexEntry.body = JSON.stringify(index);
    const path = join(dir, 'oci.tar');
    await writeFile(path, rawTar(entries));
    expect((await readArchiveSummary(path)).images).toEqual([
      { names: ['quay.io/team/tool:3'], digest: descriptor.digest },
    ]);
  });

  it.each([
    ['within the first read', 0, false],
    ['past the first 64 KiB', 300 * 1024, false],
    ['past the first 64 KiB, gzip-compressed', 300 * 1024, true],
  ])(
    'takes a full pass when manifest.json comes last, as docker save writes it (%s)',
    async (_, layerBytes, gzip) => {
      const config = JSON.stringify({ os: 'linux', architecture: 'amd64' });
      const path = join(dir, gzip ? 'save.tar.gz' : 'save.tar');
      const tar = rawTar([
        { path: `${sha256Hex(config)}.json`, body: config },
        { path: 'layer/layer.tar', body: randomBytes(layerBytes) },
        {
          path: 'manifest.json',
          body: JSON.stringify([
            { Config: `${sha256Hex(config)}.json`, RepoTags: ['nginx:1.25'], Layers: ['layer/layer.tar'] },
          ]),
        },
      ]);
      await writeFile(path, gzip ? gzipSync(tar) : tar);
      expect(await readArchiveSummary(path)).toEqual({
        path,
        compressed: gzip,
        format: 'docker',
        images: [{ names: ['docker.io/library/nginx:1.25'], configDigest: `sha256:${sha256Hex(config)}` }],
      });
    },
  );

  it('refuses entry paths that climb out even in the quick read', async () => {
    const path = join(dir, 'evil.tar');
    await writeFile(path, rawTar([{ path: '../index.json', body: '{}' }]));
    await expect(readArchiveSummary(path)).rejects.toMatchObject({ code: 'ARCHIVE_CORRUPT' });
  });
});

describe('openTarStream', () => {
  const collect = async (path: string, options?: { decompress?: boolean }): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const chunk of openTarStream(path, options)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };

  it('gives the same tar bytes for a plain and a gzip archive of the same image', async () => {
    const { image, openLayer } = fixtureImage();
    const plain = await writeImageArchive({ path: join(dir, 'a.tar'), image, openLayer });
    const gzip = await writeImageArchive({ path: join(dir, 'a.tgz'), image, openLayer, compression: 'gzip' });
    const fromPlain = await collect(plain.path);
    expect(sha256Hex(fromPlain)).toBe(plain.sha256);
    expect(sha256Hex(await collect(gzip.path))).toBe(plain.sha256);
  });

  it('gives the file as stored with decompress: false, for a runtime that reads gzip itself', async () => {
    const { image, openLayer } = fixtureImage();
    const gzip = await writeImageArchive({ path: join(dir, 'b.tgz'), image, openLayer, compression: 'gzip' });
    const stored = await collect(gzip.path, { decompress: false });
    expect(stored.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(sha256Hex(stored)).toBe(gzip.sha256);
  });

  it('errors with ARCHIVE_CORRUPT when the gzip stream is truncated', async () => {
    const { image, openLayer } = fixtureImage({ padding: Buffer.alloc(256 * 1024, 3) });
    const gzip = await writeImageArchive({
      path: join(dir, 'a.tar.gz'),
      image,
      openLayer,
      compression: 'gzip',
    });
    await truncate(gzip.path, Math.floor(gzip.size / 2));
    await expect(collect(gzip.path)).rejects.toMatchObject({ code: 'ARCHIVE_CORRUPT' });
  });
});
