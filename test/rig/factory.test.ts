import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { list } from 'tar';
import { request } from 'undici';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { MANIFEST_ACCEPT, MediaType } from '../../lib/oci/index.ts';
import {
  type BuiltImage,
  dockerImage,
  largeLayerImage,
  manyLayersImage,
  multiArchIndex,
  ociImage,
  type PushTarget,
  pushImage,
  sharedBaseImages,
} from '../../rig/factory/index.ts';

const rig = inject('rig');
const registry = rig.registry.host;

interface Served {
  status: number;
  digestHeader: unknown;
  contentType: unknown;
  digest: string;
}

const sha256 = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

const fetchManifest = async (
  host: string,
  repository: string,
  reference: string,
  accept = MANIFEST_ACCEPT,
): Promise<Served> => {
  const response = await request(`http://${host}/v2/${repository}/manifests/${reference}`, {
    headers: { accept },
  });
  const bytes = new Uint8Array(await response.body.arrayBuffer());
  return {
    status: response.statusCode,
    digestHeader: response.headers['docker-content-digest'],
    contentType: response.headers['content-type'],
    digest: sha256(bytes),
  };
};

/** What a client that trusts nothing checks: the registry serves the exact bytes the factory built. */
const expectServed = async (image: BuiltImage, target: PushTarget & { tag: string }) => {
  const pushed = await pushImage(image, target);
  expect(pushed).toEqual({
    reference: `${target.registry}/${target.repository}:${target.tag}`,
    digest: image.digest,
    mediaType: image.mediaType,
  });
  const served = await fetchManifest(target.registry, target.repository, target.tag, image.mediaType);
  expect(served).toEqual({
    status: 200,
    digestHeader: image.digest,
    contentType: image.mediaType,
    digest: image.digest,
  });
};

const headBlob = async (repository: string, digest: string) => {
  const response = await request(`http://${registry}/v2/${repository}/blobs/${digest}`, { method: 'HEAD' });
  await response.body.dump();
  return { status: response.statusCode, size: Number(response.headers['content-length']) };
};

const scratchDirs: string[] = [];
const scratchDir = async (): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-factory-'));
  scratchDirs.push(dir);
  return dir;
};
afterAll(async () => {
  for (const dir of scratchDirs) await rm(dir, { recursive: true, force: true });
});

describe('image factory', () => {
  it('pushes a Docker v2 schema 2 image that the registry serves back under the same digest', async () => {
    const image = await dockerImage();
    expect(image.mediaType).toBe(MediaType.dockerManifest);
    expect(image.platforms[0]?.layers.map((layer) => layer.mediaType)).toEqual([
      MediaType.dockerLayerGzip,
      MediaType.dockerLayerGzip,
    ]);
    await expectServed(image, { registry, repository: 'factory/docker', tag: 'v1' });
  });

  it('pushes an OCI image that the registry serves back under the same digest', async () => {
    const image = await ociImage();
    expect(image.mediaType).toBe(MediaType.ociManifest);
    expect(image.platforms[0]?.config.mediaType).toBe(MediaType.ociConfig);
    await expectServed(image, { registry, repository: 'factory/oci', tag: 'v1' });
  });

  it.each([
    ['oci', MediaType.ociIndex],
    ['docker', MediaType.dockerManifestList],
  ] as const)(
    'pushes a multi-arch %s index whose platform manifests are fetchable by digest',
    async (format, mediaType) => {
      const image = await multiArchIndex({ format });
      expect(image.mediaType).toBe(mediaType);
      expect(image.platforms.map((entry) => entry.platform)).toEqual([
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ]);
      const [amd64, arm64] = image.platforms;
      expect(amd64?.config.digest).not.toBe(arm64?.config.digest);
      expect(amd64?.layers[0]?.digest).not.toBe(arm64?.layers[0]?.digest);

      const repository = `factory/multi-arch-${format}`;
      await expectServed(image, { registry, repository, tag: 'v1' });
      for (const { manifest } of image.platforms) {
        expect(await fetchManifest(registry, repository, manifest.digest, manifest.mediaType)).toEqual({
          status: 200,
          digestHeader: manifest.digest,
          contentType: manifest.mediaType,
          digest: manifest.digest,
        });
      }
    },
  );

  it('pushes an image with twelve layers, each a blob in the repository', async () => {
    const image = await manyLayersImage({ layers: 12 });
    const layers = image.platforms[0]?.layers ?? [];
    expect(new Set(layers.map((layer) => layer.digest)).size).toBe(12);
    await expectServed(image, { registry, repository: 'factory/many-layers', tag: 'v1' });
    for (const layer of layers) {
      expect(await headBlob('factory/many-layers', layer.digest)).toEqual({ status: 200, size: layer.size });
    }
  });

  it('pushes a large incompressible layer streamed from the cache', async () => {
    const bytes = 24 * 1024 * 1024;
    const image = await largeLayerImage({ bytes, name: 'factory-test-large' });
    const large = image.platforms[0]?.layers[1];
    expect(large?.mediaType).toBe(MediaType.ociLayerGzip);
    // Incompressible: gzip can only add framing.
    expect(large?.size).toBeGreaterThan(bytes);
    await expectServed(image, { registry, repository: 'factory/large', tag: 'v1' });
    expect(await headBlob('factory/large', large?.digest ?? '')).toEqual({ status: 200, size: large?.size });

    const response = await request(`http://${registry}/v2/factory/large/blobs/${large?.digest}`);
    const hash = createHash('sha256');
    for await (const chunk of response.body) hash.update(chunk);
    expect(`sha256:${hash.digest('hex')}`).toBe(large?.digest);
  });

  it('stores an uncompressed large layer whose digest is its diff_id', async () => {
    const image = await largeLayerImage({ bytes: 4 * 1024 * 1024, compression: 'none' });
    const large = image.platforms[0]?.layers[1];
    expect(large?.mediaType).toBe(MediaType.ociLayer);
    expect(large?.digest).toBe(large?.diffId);
    await expectServed(image, { registry, repository: 'factory/large-uncompressed', tag: 'v1' });
  });

  it('builds images that share one base layer and differ in their own layer', async () => {
    const images = await sharedBaseImages({ count: 3, name: 'factory-test-shared', baseBytes: 1024 * 1024 });
    const bases = images.map((image) => image.platforms[0]?.layers[0]?.digest);
    const owns = images.map((image) => image.platforms[0]?.layers[1]?.digest);
    expect(new Set(bases).size).toBe(1);
    expect(new Set(owns).size).toBe(3);
    expect(new Set(images.map((image) => image.digest)).size).toBe(3);
    for (const [position, image] of images.entries()) {
      await expectServed(image, { registry, repository: `factory/shared-${position + 1}`, tag: 'v1' });
    }
  });

  it('pushes under a nested repository path with a pre-release tag', async () => {
    const image = await ociImage({ name: 'nested' });
    const repository = 'factory/team/platform/nested-app';
    await expectServed(image, { registry, repository, tag: '6.0-rc.1' });
    const response = await request(`http://${registry}/v2/${repository}/tags/list`);
    expect(await response.body.json()).toEqual({ name: repository, tags: ['6.0-rc.1'] });
  });

  it('pushes by digest only when no tag is given', async () => {
    const image = await ociImage({ name: 'digest-only' });
    const pushed = await pushImage(image, { registry, repository: 'factory/digest-only' });
    expect(pushed.reference).toBe(`${registry}/factory/digest-only@${image.digest}`);
    expect((await fetchManifest(registry, 'factory/digest-only', image.digest)).digestHeader).toBe(
      image.digest,
    );
  });

  it('pushes to the htpasswd registry with credentials and is refused without them', async () => {
    const { host, username, password } = rig.authRegistry;
    const image = await dockerImage({ name: 'authenticated' });
    await expect(
      pushImage(image, { registry: host, repository: 'factory/auth', tag: 'v1' }),
    ).rejects.toMatchObject({
      code: 'AUTH_DENIED',
    });
    const pushed = await pushImage(image, {
      registry: host,
      repository: 'factory/auth',
      tag: 'v1',
      auth: { username, password },
    });
    expect(pushed.digest).toBe(image.digest);
    const response = await request(`http://${host}/v2/factory/auth/manifests/v1`, {
      headers: {
        accept: image.mediaType,
        authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`,
      },
    });
    expect(sha256(new Uint8Array(await response.body.arrayBuffer()))).toBe(image.digest);
  });

  it('builds every preset to the same digest in two empty cache directories', async () => {
    const build = async (cacheDir: string) =>
      [
        await dockerImage({ cacheDir }),
        await ociImage({ cacheDir }),
        await multiArchIndex({ cacheDir }),
        await manyLayersImage({ cacheDir }),
        await largeLayerImage({ cacheDir, bytes: 2 * 1024 * 1024 }),
        ...(await sharedBaseImages({ cacheDir, count: 2, baseBytes: 256 * 1024 })),
      ].map((image) => image.digest);
    const first = await build(await scratchDir());
    const second = await build(await scratchDir());
    expect(second).toEqual(first);
    expect(first).toContain((await dockerImage()).digest);
  });

  it('writes layers as root-owned tar entries with fixed times under /etc/airlock-factory', async () => {
    const image = await ociImage({ name: 'tree' });
    const layer = image.platforms[0]?.layers[0];
    const entries: { path: string; type: string; uid: number | undefined; mtime: string | undefined }[] = [];
    await list({
      file: layer?.path,
      onReadEntry: (entry) =>
        entries.push({
          path: entry.path,
          type: entry.type,
          uid: entry.uid,
          mtime: entry.mtime?.toISOString(),
        }),
    });
    expect(entries.map((entry) => `${entry.type} ${entry.path}`)).toEqual([
      'Directory etc/',
      'Directory etc/airlock-factory/',
      'Directory usr/',
      'Directory usr/share/',
      'Directory usr/share/airlock-factory/',
      'Directory usr/share/airlock-factory/tree/',
      'File etc/airlock-factory/tree.txt',
      'File usr/share/airlock-factory/tree/base.bin',
    ]);
    for (const entry of entries) expect(entry).toMatchObject({ uid: 0, mtime: '2024-01-01T00:00:00.000Z' });
  });
});
