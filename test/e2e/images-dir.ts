// The demo app's images pushed to the rig's registry (the worker pinned by digest), and the chart values that
// name them: what the e2e tests export with rig/images-dir.ts.
import type { inject } from 'vitest';
import { ociImage, pushImage } from '../../rig/factory/index.ts';
import { imagesOf, renderChart } from '../chart/chart-render.ts';

type Rig = ReturnType<typeof inject<'rig'>>;

export interface AppImages {
  /** Chart values that point every app image at the rig's registry. */
  values: Record<string, unknown>;
  /** The images the chart's Deployments name with those values. */
  references: string[];
}

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
