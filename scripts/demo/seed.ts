// Fills the throwaway registry with what a real one would hold for the chart: its four application images,
// built from bytes by the test image factory. There is no importer image: it travels in the images directory.
import {
  type BuiltImage,
  dockerImage,
  multiArchIndex,
  ociImage,
  pushImage,
} from '../../rig/factory/index.ts';
import type { RigInfo } from '../../rig/types.ts';

export interface SeededImage {
  /** As the chart writes it (Docker Hub short form): `airlock/demo-web:1.0.0`. */
  chartReference: string;
  /** Where it lives in the throwaway registry. */
  pushedTo: string;
  digest: string;
}

export interface SeedResult {
  images: SeededImage[];
  /** Digest of the worker image, which the chart pins by digest (`worker.image.digest`). */
  workerDigest: string;
}

// The chart's images (helm/values.yaml), each a different kind of image a real chart meets.
const APPLICATION_IMAGES: { repository: string; tag: string; build: () => Promise<BuiltImage> }[] = [
  { repository: 'airlock/demo-web', tag: '1.0.0', build: () => dockerImage({ name: 'demo-web' }) },
  { repository: 'airlock/demo-init', tag: '1.0.0', build: () => ociImage({ name: 'demo-init' }) },
  { repository: 'airlock/demo-worker', tag: '1.0.0', build: () => multiArchIndex({ name: 'demo-worker' }) },
  { repository: 'airlock/demo-metrics', tag: '1.0.0', build: () => ociImage({ name: 'demo-metrics' }) },
];

/** Builds the chart's application images and pushes each under its repository and tag. */
export const seedApplicationImages = async (rig: Pick<RigInfo, 'registry'>): Promise<SeedResult> => {
  const images: SeededImage[] = [];
  for (const { repository, tag, build } of APPLICATION_IMAGES) {
    const pushed = await pushImage(await build(), { registry: rig.registry.host, repository, tag });
    images.push({
      chartReference: `${repository}:${tag}`,
      pushedTo: pushed.reference,
      digest: pushed.digest,
    });
  }
  const worker = images.find((image) => image.chartReference.startsWith('airlock/demo-worker:'));
  if (!worker) throw new Error('demo: the worker image was not seeded');
  return { images, workerDigest: worker.digest };
};
