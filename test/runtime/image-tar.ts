import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ArchiveBlob, ArchiveImage } from '../../lib/archive/index.ts';
import { openTarStream, writeImageArchive } from '../../lib/archive/index.ts';
import type { Descriptor } from '../../lib/oci/index.ts';
import { type BuiltImage, type ImageBlob, ociImage } from '../../rig/factory/index.ts';

/** A small real image, built by the factory and written as an airlock archive, ready to stream into a runtime. */
export interface TestImageTar {
  /** The archive on disk (plain tar). */
  path: string;
  /** `repo:tag` and, when pinned, `repo@sha256:...`. */
  names: string[];
  /** The target (manifest) digest containerd records for every name. */
  digest: string;
  /** The config digest, which Docker reports as the image ID. */
  configDigest: string;
  open: () => Readable;
}

const blobOf = async (blob: ImageBlob): Promise<ArchiveBlob> => ({
  descriptor: { mediaType: blob.mediaType, digest: blob.digest, size: blob.size },
  bytes: await readFile(blob.path),
});

const toArchiveImage = async (built: BuiltImage, names: string[]): Promise<ArchiveImage> => ({
  names,
  dockerRepoTags: names.filter((name) => !name.includes('@')),
  target: {
    descriptor: { mediaType: built.mediaType, digest: built.digest, size: built.size },
    bytes: await readFile(built.path),
  },
  manifests: await Promise.all(
    built.platforms.map(async (platform) => ({
      ...(await blobOf(platform.manifest)),
      config: await blobOf(platform.config),
      layers: platform.layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
    })),
  ),
});

/**
 * Writes a single-platform linux/amd64 OCI image named `repository:tag` into `dir`.
 * `label` seeds the content, so different labels give different digests.
 */
export const writeTestImageTar = async (
  dir: string,
  options: { repository: string; tag?: string; label: string; pinned?: boolean },
): Promise<TestImageTar> => {
  const built = await ociImage({ name: options.label });
  const [platform] = built.platforms;
  if (!platform) throw new Error('factory returned an image without platforms');
  const tagged = `${options.repository}:${options.tag ?? '1.0'}`;
  const names = options.pinned ? [tagged, `${options.repository}@${built.digest}`] : [tagged];
  const layers = new Map(platform.layers.map((layer) => [layer.digest, layer.path]));
  const path = join(dir, `${options.label}.tar`);
  await writeImageArchive({
    path,
    image: await toArchiveImage(built, names),
    openLayer: async (descriptor: Descriptor) => {
      const file = layers.get(descriptor.digest);
      if (!file) throw new Error(`factory image has no layer ${descriptor.digest}`);
      return createReadStream(file);
    },
  });
  return {
    path,
    names,
    digest: built.digest,
    configDigest: platform.config.digest,
    open: () => openTarStream(path),
  };
};
