import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pLimit from 'p-limit';
import { request } from 'undici';
import { type BuiltImage, largeLayerImage, pushImage, sharedBaseImages } from '../rig/factory/index.ts';
import { type BenchSettings, SCALE_SMALL_COUNT } from './settings.ts';

export interface BenchImage {
  /** `host:port/repository:tag` in the rig registry. */
  reference: string;
  built: BuiltImage;
}

export interface Workload {
  key: string;
  /** Table column: `300 MiB image`, `30 images`. */
  short: string;
  /** Row label: `1 image, 300 MiB layer`, `30 images, shared base`. */
  label: string;
  images: BenchImage[];
  /** Bytes of every distinct blob (manifests, configs, layers): what has to cross the network once. */
  uniqueBytes: number;
  /** Bytes of every image's blobs added up: what the archives hold, shared layers counted in each. */
  totalBytes: number;
}

const MIB = 1024 * 1024;

const sizeOf = (images: readonly BenchImage[], unique: boolean): number => {
  const seen = new Set<string>();
  let bytes = 0;
  for (const { built } of images) {
    for (const blob of built.blobs) {
      if (unique && seen.has(blob.digest)) continue;
      seen.add(blob.digest);
      bytes += blob.size;
    }
  }
  return bytes;
};

const workload = (key: string, short: string, label: string, images: BenchImage[]): Workload => ({
  key,
  short,
  label,
  images,
  uniqueBytes: sizeOf(images, true),
  totalBytes: sizeOf(images, false),
});

const push = async (registry: string, repository: string, built: BuiltImage): Promise<BenchImage> => {
  const { reference } = await pushImage(built, { registry, repository, tag: '1' });
  return { reference, built };
};

export interface Workloads {
  large: Workload;
  shared: Workload;
  /** The first `smallSubset` images of the shared set, for the scaling check. */
  subset: Workload;
}

/** Builds the images with the factory (cached between runs) and pushes them to the rig registry. */
export const prepareWorkloads = async (registry: string, settings: BenchSettings): Promise<Workloads> => {
  const largeBuilt = await largeLayerImage({ name: 'bench-large', bytes: settings.largeBytes });
  const large = await push(registry, 'bench/large', largeBuilt);
  const sharedBuilt = await sharedBaseImages({
    name: 'bench-shared',
    count: settings.smallCount,
    baseBytes: settings.smallBaseBytes,
    ownBytes: settings.smallOwnBytes,
  });
  const limit = pLimit(4);
  const shared = await Promise.all(
    sharedBuilt.map((built, position) => limit(() => push(registry, `bench/shared-${position + 1}`, built))),
  );
  const largeMib = Math.round(settings.largeBytes / MIB);
  const perImage = (settings.smallBaseBytes + settings.smallOwnBytes) / MIB;
  const setLabel = (count: number) => `${count} images, shared base (~${perImage.toFixed(1)} MiB each)`;
  return {
    large: workload('large', `${largeMib} MiB image`, `1 image, ${largeMib} MiB incompressible layer`, [
      large,
    ]),
    shared: workload('shared', `${shared.length} images`, setLabel(shared.length), shared),
    subset: workload(
      'subset',
      `${settings.smallSubset} images`,
      setLabel(settings.smallSubset),
      shared.slice(0, settings.smallSubset),
    ),
  };
};

/**
 * The scale check's images: BENCH_SCALE_COUNT images with an incompressible layer of their own each (and a
 * small shared base), and the first SCALE_SMALL_COUNT of them.
 */
export const prepareScaleWorkloads = async (
  registry: string,
  settings: BenchSettings,
): Promise<{ small: Workload; large: Workload }> => {
  const built = await sharedBaseImages({
    name: 'bench-scale',
    count: settings.scaleCount,
    baseBytes: MIB,
    ownBytes: settings.scaleOwnBytes,
  });
  const limit = pLimit(4);
  const images = await Promise.all(
    built.map((image, position) => limit(() => push(registry, `bench/scale-${position + 1}`, image))),
  );
  const label = (count: number) =>
    `${count} images of ~${((settings.scaleOwnBytes + MIB) / MIB).toFixed(0)} MiB (scale check)`;
  const small = images.slice(0, SCALE_SMALL_COUNT);
  return {
    small: workload('scale-small', `${small.length} images (scale)`, label(small.length), small),
    large: workload('scale-large', `${images.length} images (scale)`, label(images.length), images),
  };
};

/** The manifests of an image: fetched from /manifests/, everything else from /blobs/. */
const manifestDigests = (built: BuiltImage): Set<string> =>
  new Set([built.digest, ...built.platforms.map((platform) => platform.manifest.digest)]);

/**
 * The physical limit of an export: every distinct blob of the workload downloaded once from the same
 * registry, three at a time (the exporter's default concurrency), and thrown away — or, with `into`, written
 * to one file per blob there and fsynced, which is what any tool that leaves files behind must at least do.
 * `hashes` sha256 passes over every byte on the way: 2 is what an exporter that checks each blob's digest and
 * records each file's checksum must add. Returns the bytes read.
 */
export const downloadEveryBlobOnce = async (
  registryUrl: string,
  images: readonly BenchImage[],
  into?: string,
  hashes = 0,
) => {
  const seen = new Set<string>();
  const urls: string[] = [];
  for (const { reference, built } of images) {
    const repository = reference.slice(reference.indexOf('/') + 1, reference.lastIndexOf(':'));
    const manifests = manifestDigests(built);
    for (const blob of built.blobs) {
      if (seen.has(blob.digest)) continue;
      seen.add(blob.digest);
      const kind = manifests.has(blob.digest) ? 'manifests' : 'blobs';
      urls.push(`${registryUrl}/v2/${repository}/${kind}/${blob.digest}`);
    }
  }
  const limit = pLimit(3);
  const sizes = await Promise.all(
    urls.map((url) =>
      limit(async () => {
        const response = await request(url, {
          headers: {
            accept:
              'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json',
          },
        });
        if (response.statusCode !== 200) {
          await response.body.dump();
          throw new Error(`GET ${url}: ${response.statusCode}`);
        }
        if (!into) {
          let bytes = 0;
          for await (const chunk of response.body) bytes += (chunk as Buffer).length;
          return bytes;
        }
        const file = join(into, url.slice(url.lastIndexOf(':') + 1));
        const hashers = Array.from({ length: hashes }, () => createHash('sha256'));
        await pipeline(
          response.body,
          async function* (source: AsyncIterable<Buffer>) {
            for await (const chunk of source) {
              for (const hasher of hashers) hasher.update(chunk);
              yield chunk;
            }
          },
          createWriteStream(file),
        );
        const handle = await open(file, 'r');
        try {
          await handle.sync();
          return (await handle.stat()).size;
        } finally {
          await handle.close();
        }
      }),
    ),
  );
  return sizes.reduce((sum, size) => sum + size, 0);
};
