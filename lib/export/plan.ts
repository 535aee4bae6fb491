import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import type { ArchiveImage, ArchiveManifest } from '../archive/index.ts';
import { AirlockError } from '../errors.ts';
import {
  configPlatform,
  type Descriptor,
  formatPlatform,
  ImageConfig,
  ImageIndex,
  ImageManifest,
  isIndexMediaType,
  type Platform,
} from '../oci/index.ts';
import {
  archiveBaseName,
  formatReference,
  type ImageReference,
  parseReference,
  runtimeNames,
  withDefaultTag,
} from '../reference/index.ts';
import type { RegistryClient } from '../registry/index.ts';
import { selectPlatforms } from '../registry/index.ts';

/** Everything needed to write one image's archive, resolved from the registry before any layer is fetched. */
export interface ImagePlan {
  reference: ImageReference;
  /** Fully qualified reference, as printed and recorded in images.json. */
  display: string;
  /** Every reference of the chart this archive serves: one image digest named by tag and by digest is one archive. */
  references: string[];
  file: string;
  image: ArchiveImage;
  platforms: string[];
  /** Every distinct layer of the selected platforms. */
  layers: Descriptor[];
  /** Bytes of all blobs the archive will hold. */
  size: number;
}

export interface PlanOptions {
  output: string;
  platforms: Platform[];
  compression: 'none' | 'gzip';
}

/** Configs are small JSON documents; anything bigger is not an image config and is refused before buffering. */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export const archiveFileName = (reference: ImageReference, compression: 'none' | 'gzip'): string =>
  `${archiveBaseName(reference)}${compression === 'gzip' ? '.tar.gz' : '.tar'}`;

const fetchConfig = async (client: RegistryClient, reference: ImageReference, descriptor: Descriptor) => {
  if (descriptor.size > MAX_CONFIG_BYTES) {
    throw new AirlockError(
      'UNSUPPORTED',
      `${formatReference(reference)}: image config ${descriptor.digest} is ${descriptor.size} bytes, over the ${MAX_CONFIG_BYTES}-byte limit`,
    );
  }
  const bytes = await buffer(await client.openBlob(reference, descriptor));
  return { descriptor, bytes };
};

const resolveManifest = async (
  client: RegistryClient,
  reference: ImageReference,
  descriptor: Descriptor,
  bytes: Buffer,
): Promise<ArchiveManifest> => {
  const manifest = ImageManifest.parse(JSON.parse(bytes.toString('utf8')));
  const config = await fetchConfig(client, reference, manifest.config);
  return { descriptor, bytes, config, layers: manifest.layers };
};

/** Resolves a reference to the manifests, configs and layers of the wanted platforms. */
export const planImage = async (
  client: RegistryClient,
  input: string,
  options: PlanOptions,
): Promise<ImagePlan> => {
  const reference = withDefaultTag(parseReference(input));
  const top = await client.getManifest(reference);
  const manifests: ArchiveManifest[] = [];
  let platforms: string[];

  if (isIndexMediaType(top.descriptor.mediaType)) {
    const index = ImageIndex.parse(JSON.parse(top.bytes.toString('utf8')));
    const selected = selectPlatforms(formatReference(reference), index, options.platforms);
    for (const child of selected) {
      const fetched = await client.getManifest({ ...reference, tag: undefined, digest: child.digest });
      manifests.push(
        await resolveManifest(
          client,
          reference,
          { ...child, ...fetched.descriptor, platform: child.platform },
          fetched.bytes,
        ),
      );
    }
    platforms = selected.map((child) => (child.platform ? formatPlatform(child.platform) : 'unknown'));
  } else {
    const manifest = await resolveManifest(client, reference, top.descriptor, top.bytes);
    manifests.push(manifest);
    platforms = [describeConfigPlatform(manifest.config.bytes)];
  }

  const layers = uniqueByDigest(manifests.flatMap((manifest) => manifest.layers));
  const names = runtimeNames(reference);
  const size =
    top.bytes.length +
    manifests.reduce(
      (sum, manifest) =>
        sum + (manifest === undefined ? 0 : manifest.bytes.length + manifest.config.bytes.length),
      0,
    ) +
    layers.reduce((sum, layer) => sum + layer.size, 0);

  return {
    reference,
    display: formatReference(reference),
    references: [formatReference(reference)],
    file: path.join(options.output, archiveFileName(reference, options.compression)),
    image: {
      names,
      dockerRepoTags: names.filter((name) => !name.includes('@')),
      target: { descriptor: top.descriptor, bytes: top.bytes },
      manifests,
    },
    platforms,
    layers,
    size,
  };
};

const describeConfigPlatform = (bytes: Buffer): string => {
  try {
    return configPlatform(ImageConfig.parse(JSON.parse(bytes.toString('utf8')))) ?? 'unknown';
  } catch {
    return 'unknown';
  }
};

/**
 * One plan per image digest: references that resolve to the same manifest or index (a tag and the digest it
 * points at, or two tags of one image) share one archive carrying all their names. The tagged reference names
 * the file, as it is the one a person recognises.
 */
export const mergeByDigest = (plans: readonly ImagePlan[]): ImagePlan[] => {
  const byDigest = new Map<string, ImagePlan>();
  const tagFirst = [...plans].sort((a, b) => Number(!a.reference.tag) - Number(!b.reference.tag));
  for (const plan of tagFirst) {
    const digest = plan.image.target.descriptor.digest;
    const kept = byDigest.get(digest);
    if (!kept) {
      byDigest.set(digest, plan);
      continue;
    }
    const names = [...new Set([...kept.image.names, ...plan.image.names])];
    byDigest.set(digest, {
      ...kept,
      references: [...kept.references, ...plan.references],
      image: { ...kept.image, names, dockerRepoTags: names.filter((name) => !name.includes('@')) },
    });
  }
  // Keep the order the chart listed the images in, so results and images.json read like the chart.
  return plans.flatMap((plan) => {
    const merged = byDigest.get(plan.image.target.descriptor.digest);
    return merged && merged.display === plan.display ? [merged] : [];
  });
};

export const uniqueByDigest = (descriptors: readonly Descriptor[]): Descriptor[] => {
  const seen = new Map<string, Descriptor>();
  for (const descriptor of descriptors)
    if (!seen.has(descriptor.digest)) seen.set(descriptor.digest, descriptor);
  return [...seen.values()];
};
