// An images directory as `export-images.ts --importer bundle` writes it for the demo chart: the app images
// (pushed to the rig's registry, the worker pinned by digest) and the amd64 importer runtime.
import { Writable } from 'node:stream';
import type { inject } from 'vitest';
import { exportImporterRuntime } from '../../lib/bundle/index.ts';
import { exportImages } from '../../lib/export/export.ts';
import { writeOutputs } from '../../lib/export/outputs.ts';
import { parsePlatform } from '../../lib/oci/index.ts';
import { normalizeReference } from '../../lib/reference/index.ts';
import { createRegistryClient } from '../../lib/registry/index.ts';
import { silentLogger } from '../../lib/report/log.ts';
import { createProgress } from '../../lib/report/progress.ts';
import { ociImage, pushImage } from '../../rig/factory/index.ts';
import { imagesOf, renderChart } from '../chart/chart-render.ts';

type Rig = ReturnType<typeof inject<'rig'>>;

export interface AppImages {
  /** Chart values that point every app image at the rig's registry. */
  values: Record<string, unknown>;
  /** The images the chart's Deployments name with those values. */
  references: string[];
}

const discard = () =>
  new Writable({
    write: (_chunk, _encoding, callback) => callback(),
  }) as unknown as NodeJS.WriteStream;

/** Pushes the demo app's four images under a repository prefix of the test's own, and returns the values. */
export const pushAppImages = async (rig: Rig, prefix: string): Promise<AppImages> => {
  let workerDigest = '';
  for (const name of ['web', 'init', 'worker', 'metrics']) {
    const image = await ociImage({ name: `${prefix}-${name}` });
    const pushed = await pushImage(image, {
      registry: rig.registry.host,
      repository: `${prefix}/demo-${name}`,
      tag: '1.0.0',
    });
    if (name === 'worker') workerDigest = pushed.digest;
  }
  const image = (name: string) => ({ registry: rig.registry.host, repository: `${prefix}/demo-${name}` });
  const values = {
    web: { image: image('web'), initImage: image('init') },
    worker: { image: { ...image('worker'), digest: workerDigest }, metrics: { image: image('metrics') } },
  };
  const apps = (await renderChart(rig.helm.v3.path, values)).filter((object) => object.kind !== 'Job');
  return { values, references: imagesOf(apps) };
};

/** Exports the references and the importer runtime into `output`, SHA256SUMS and images.json included. */
export const writeImagesDir = async (output: string, references: readonly string[]): Promise<void> => {
  const platforms = [parsePlatform('linux/amd64')];
  const { manifest: importer } = await exportImporterRuntime({ output, platforms, version: '0.1.0' });
  const client = createRegistryClient({ logger: silentLogger });
  try {
    const report = await exportImages({
      images: references.map(normalizeReference),
      output,
      platforms,
      compression: 'gzip',
      gzipLevel: 0,
      concurrency: 2,
      client,
      logger: silentLogger,
      progress: createProgress({ stream: discard(), interactive: false }),
    });
    const failed = report.results.filter((result) => result.outcome === 'failed');
    if (failed.length > 0 || !report.manifest) throw new Error(`export failed: ${JSON.stringify(failed)}`);
    await writeOutputs(output, { ...report.manifest, importer });
  } finally {
    await client.close();
  }
};
