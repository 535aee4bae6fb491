import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import {
  chartDir,
  containersOf,
  helmBinaries,
  imagesOf,
  importJobsOf,
  podSpecOf,
  renderChart,
} from './chart-render.ts';

// The digest values.yaml pins for the worker (test/demo/chart-pins.test.ts keeps it equal to the demo's image).
const WORKER_DIGEST = 'sha256:1844246b5e2e6d6f482e588869927d1e9d46c97d680e95fe6eca756f4cd021b9';
const DIGEST = `sha256:${'ab'.repeat(32)}`;

const ImageList = z.array(z.strictObject({ name: z.string().min(1), image: z.string().min(1) }));
const ChartAnnotations = z.looseObject({
  annotations: z.looseObject({ 'artifacthub.io/images': z.string(), 'helm.sh/images': z.string() }),
});

const chartImageAnnotations = async () => {
  const chart = ChartAnnotations.parse(parse(await readFile(join(chartDir, 'Chart.yaml'), 'utf8')));
  return {
    artifactHub: ImageList.parse(parse(chart.annotations['artifacthub.io/images'])),
    helm: ImageList.parse(parse(chart.annotations['helm.sh/images'])),
  };
};

describe.each(helmBinaries())('chart images with $name', ({ path: helm }) => {
  it('renders no hook with default values', async () => {
    const objects = await renderChart(helm);
    expect(objects.map((object) => object.kind).sort()).toEqual(['Deployment', 'Deployment', 'Service']);
    for (const object of objects) expect(object.metadata.annotations?.['helm.sh/hook']).toBeUndefined();
  });

  it('renders every image from values with its pull policy', async () => {
    const objects = await renderChart(helm);
    expect(imagesOf(objects)).toEqual([
      'airlock/demo-init:1.0.0',
      'airlock/demo-web:1.0.0',
      `airlock/demo-worker@${WORKER_DIGEST}`,
      'airlock/demo-metrics:1.0.0',
    ]);
    const policies = objects.flatMap((object) => {
      const spec = podSpecOf(object);
      return spec ? containersOf(spec).map((container) => container.imagePullPolicy) : [];
    });
    expect(new Set(policies)).toEqual(new Set(['IfNotPresent']));
  });

  it('puts global.imageRegistry in front of every image, the importer image included', async () => {
    const objects = await renderChart(helm, {
      global: { imageRegistry: 'mirror.internal:5000' },
      web: { image: { registry: 'ghcr.io' } },
      imagePull: { enabled: true, nodes: ['node-a'], importer: { mode: 'image' } },
    });
    expect(imagesOf(objects)).toEqual([
      'mirror.internal:5000/airlock/demo-init:1.0.0',
      'mirror.internal:5000/airlock/demo-web:1.0.0',
      `mirror.internal:5000/airlock/demo-worker@${WORKER_DIGEST}`,
      'mirror.internal:5000/airlock/demo-metrics:1.0.0',
      'mirror.internal:5000/airlock/importer:0.1.0',
    ]);
  });

  it('leaves the host image of bundle mode as given: it is on the node already, never pulled', async () => {
    const objects = await renderChart(helm, {
      global: { imageRegistry: 'mirror.internal:5000' },
      imagePull: { enabled: true, nodes: ['node-a'], importer: { hostImage: 'registry.k8s.io/pause:3.10' } },
    });
    expect(imagesOf(importJobsOf(objects))).toEqual(['registry.k8s.io/pause:3.10']);
  });

  it("puts an image's own registry in front of its repository", async () => {
    const objects = await renderChart(helm, { web: { image: { registry: 'ghcr.io' } } });
    expect(imagesOf(objects)).toContain('ghcr.io/airlock/demo-web:1.0.0');
  });

  it('references an image by digest instead of tag when a digest is set', async () => {
    const objects = await renderChart(helm, {
      web: { image: { tag: '2.0.0', digest: DIGEST } },
      worker: { image: { digest: DIGEST } },
    });
    const images = imagesOf(objects);
    expect(images).toContain(`airlock/demo-web@${DIGEST}`);
    expect(images).toContain(`airlock/demo-worker@${DIGEST}`);
    expect(images.join(' ')).not.toContain('2.0.0');
  });

  it("falls back to the chart's appVersion when a tag is empty", async () => {
    const objects = await renderChart(helm, { web: { image: { tag: '' } } });
    expect(imagesOf(objects)).toContain('airlock/demo-web:0.1.0');
  });

  it('lists in Chart.yaml exactly the images the chart renders, and not the importer', async () => {
    const rendered = imagesOf(await renderChart(helm));
    const { artifactHub, helm: helmImages } = await chartImageAnnotations();
    expect(helmImages).toEqual(artifactHub);
    expect(artifactHub.map((entry) => entry.image).sort()).toEqual([...rendered].sort());
    expect(artifactHub.map((entry) => entry.image).join(' ')).not.toContain('importer');
    expect(new Set(artifactHub.map((entry) => entry.name)).size).toBe(artifactHub.length);
  });
});

describe('importer image', () => {
  it("is pinned to the chart's appVersion, never latest", async () => {
    const chart = z
      .looseObject({ appVersion: z.string() })
      .parse(parse(await readFile(join(chartDir, 'Chart.yaml'), 'utf8')));
    const values = z
      .looseObject({
        imagePull: z.looseObject({
          importer: z.looseObject({ image: z.looseObject({ tag: z.string() }) }),
        }),
      })
      .parse(parse(await readFile(join(chartDir, 'values.yaml'), 'utf8')));
    expect(values.imagePull.importer.image.tag).toBe(chart.appVersion);
    expect(chart.appVersion).not.toBe('latest');
  });
});
