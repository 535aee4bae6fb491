import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import type { ArchiveBlob, ArchiveImage, ArchiveManifest } from '../../lib/archive/index.ts';
import { type Descriptor, MediaType } from '../../lib/oci/index.ts';

/** Small, real images built from bytes: layers are valid gzip'ed tars whose diff_ids match, so runtimes load them. */

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export const blobOf = (mediaType: string, bytes: Buffer, extra: Partial<Descriptor> = {}): ArchiveBlob => ({
  descriptor: { mediaType, digest: sha256(bytes), size: bytes.length, ...extra },
  bytes,
});

/** A one-file root filesystem diff, as `tar` would write it. */
export const layerTar = (files: Record<string, string | Buffer>): Buffer => {
  const blocks: Buffer[] = [];
  for (const [path, content] of Object.entries(files)) {
    const body = Buffer.isBuffer(content) ? content : Buffer.from(content);
    const header = Buffer.alloc(512);
    new Header({ path, size: body.length, mode: 0o644, mtime: new Date(0), type: 'File' }).encode(header, 0);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
};

export interface FixtureImage {
  image: ArchiveImage;
  layers: Map<string, Buffer>;
  openLayer: (descriptor: Descriptor) => Promise<Readable>;
}

export interface FixtureOptions {
  /** Repository, e.g. `docker.io/library/airlock-fixture`. */
  repository?: string;
  tag?: string;
  platforms?: string[];
  /** Makes the content (and so every digest) unique to the caller. */
  seed?: string;
  /** Extra bytes in one layer, to make a bigger archive. */
  padding?: Buffer;
  /** Also name the image by digest (`repo@sha256:...`). */
  pinned?: boolean;
}

const platformManifest = (
  platform: string,
  seed: string,
  shared: { tar: Buffer; gzip: Buffer },
  padding: Buffer | undefined,
): { manifest: ArchiveManifest; layers: Array<[string, Buffer]> } => {
  const [os = 'linux', architecture = 'amd64', variant] = platform.split('/');
  const ownTar = layerTar({
    [`etc/airlock-fixture/${architecture}.txt`]: `${seed} ${platform}\n`,
    ...(padding ? { 'opt/padding.bin': padding } : {}),
  });
  const ownGzip = gzipSync(ownTar, { level: padding ? 0 : 6 });
  const layerDescriptors = [
    { mediaType: MediaType.ociLayerGzip, digest: sha256(shared.gzip), size: shared.gzip.length },
    { mediaType: MediaType.ociLayerGzip, digest: sha256(ownGzip), size: ownGzip.length },
  ];
  const configJson = {
    architecture,
    os,
    ...(variant ? { variant } : {}),
    config: { Cmd: ['/bin/true'] },
    rootfs: { type: 'layers', diff_ids: [sha256(shared.tar), sha256(ownTar)] },
  };
  const config = blobOf(MediaType.ociConfig, Buffer.from(JSON.stringify(configJson)));
  const manifestJson = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: config.descriptor,
    layers: layerDescriptors,
  };
  const manifestBlob = blobOf(MediaType.ociManifest, Buffer.from(JSON.stringify(manifestJson)), {
    platform: { os, architecture, ...(variant ? { variant } : {}) },
  });
  return {
    manifest: { ...manifestBlob, config, layers: layerDescriptors },
    layers: [
      [sha256(shared.gzip), shared.gzip],
      [sha256(ownGzip), ownGzip],
    ],
  };
};

/**
 * One platform gives a manifest target; several give an OCI index target whose manifests share a base layer,
 * so the archive must write that layer once.
 */
export const fixtureImage = (options: FixtureOptions = {}): FixtureImage => {
  const repository = options.repository ?? 'docker.io/library/airlock-fixture';
  const tag = options.tag ?? '1.0';
  const seed = options.seed ?? 'airlock';
  const platforms = options.platforms ?? ['linux/amd64'];
  const sharedTar = layerTar({ 'etc/airlock-fixture/base.txt': `base ${seed}\n` });
  const shared = { tar: sharedTar, gzip: gzipSync(sharedTar) };
  const built = platforms.map((platform) => platformManifest(platform, seed, shared, options.padding));
  const manifests = built.map(({ manifest }) => manifest);
  const layers = new Map(built.flatMap(({ layers: pairs }) => pairs));
  const [first] = manifests;
  if (!first) throw new Error('fixtureImage needs at least one platform');
  const { platform: _platform, ...manifestDescriptor } = first.descriptor;
  const target: ArchiveBlob =
    manifests.length === 1
      ? { descriptor: manifestDescriptor, bytes: first.bytes }
      : blobOf(
          MediaType.ociIndex,
          Buffer.from(
            JSON.stringify({
              schemaVersion: 2,
              mediaType: MediaType.ociIndex,
              manifests: manifests.map((manifest) => manifest.descriptor),
            }),
          ),
        );
  const tagged = `${repository}:${tag}`;
  const names = options.pinned ? [tagged, `${repository}@${target.descriptor.digest}`] : [tagged];
  return {
    image: { names, dockerRepoTags: [tagged], target, manifests },
    layers,
    openLayer: async (descriptor) => {
      const bytes = layers.get(descriptor.digest);
      if (!bytes) throw new Error(`fixture has no layer ${descriptor.digest}`);
      return Readable.from([
        bytes.subarray(0, Math.floor(bytes.length / 2)),
        bytes.subarray(Math.floor(bytes.length / 2)),
      ]);
    },
  };
};
