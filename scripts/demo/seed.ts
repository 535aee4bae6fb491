// Fills the throwaway registry with what a real one would hold for the chart: its four application images,
// built from bytes by the test image factory, and the importer image built from importer/Dockerfile.
import { run } from '../../lib/exec/run.ts';
import { parseReference } from '../../lib/reference/index.ts';
import {
  type BuiltImage,
  dockerImage,
  multiArchIndex,
  ociImage,
  pushImage,
} from '../../rig/factory/index.ts';
import { ensureImporterImage } from '../../rig/importer-image.ts';
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

/**
 * Builds the importer image in the throwaway dockerd and pushes it to the registry, so the exporter
 * fetches it like every other image of the chart.
 */
export const seedImporterImage = async (rig: Pick<RigInfo, 'registry' | 'docker'>): Promise<SeededImage> => {
  const { reference } = await ensureImporterImage(rig);
  const { path, tag } = parseReference(reference);
  const target = `${rig.registry.host}/${path}:${tag ?? 'latest'}`;
  const env = { DOCKER_HOST: rig.docker.host };
  await run('docker', ['tag', reference, target], { env });
  // dockerd treats 127.0.0.0/8 as an insecure registry: plain HTTP, no daemon configuration needed.
  await run('docker', ['push', target], { env, timeout: 5 * 60_000 });
  const { stdout } = await run(
    'docker',
    ['image', 'inspect', '--format', '{{index .RepoDigests 0}}', target],
    {
      env,
    },
  );
  return { chartReference: reference, pushedTo: target, digest: stdout.trim().split('@')[1] ?? '' };
};
