import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { discoverImages } from '../../lib/discover/index.ts';
import { runExport } from '../export/support.ts';
import { operatorChart, operatorImages, writeTree } from './fixtures.ts';

const rig = inject('rig');
if (!rig)
  throw new Error(
    'these tests render charts with the rig’s Helm 3 and Helm 4: run them with vitest.config.ts',
  );
const helms = [
  ['Helm 3', rig.helm.v3.path],
  ['Helm 4', rig.helm.v4.path],
] as const;

const OPTIONS = { registry: 'registry.example.com:5000', org: 'acme' };
const references = (images: { reference: string }[]) => images.map((image) => image.reference);
const writeOperator = async () => join(await writeTree(operatorChart(OPTIONS)), 'op');

describe.each(helms)('an operator chart with %s', (_name, helm) => {
  it('exports the images in args (both forms), env, and the mounted ConfigMap, and no decoy', async () => {
    const result = await discoverImages({ chart: await writeOperator(), helm, releaseName: 'demo' });
    expect(references(result.images)).toEqual([
      'registry.example.com:5000/acme/op-controller:1.0.0',
      'registry.example.com:5000/acme/op-default:4.0.0',
      'registry.example.com:5000/acme/op-executor:2.0.0',
      'registry.example.com:5000/acme/op-reloader:3.0.0',
      'registry.example.com:5000/acme/op-sidecar:5.0.0',
      'registry.example.com:5000/acme/op-solver:1.0.0',
    ]);
    expect(references(result.images)).toEqual(operatorImages(OPTIONS));
  });

  it('records where each image handed over as text was found', async () => {
    const result = await discoverImages({ chart: await writeOperator(), helm, releaseName: 'demo' });
    const rendered = Object.fromEntries(
      result.images.map((image) => [
        image.reference.replace('registry.example.com:5000/acme/', ''),
        image.sources.filter((source) => source.kind === 'rendered').map((source) => source.location),
      ]),
    );
    expect(rendered).toEqual({
      'op-controller:1.0.0': ['Deployment/demo-op: spec.template.spec.containers[0].image'],
      'op-solver:1.0.0': [
        'Deployment/demo-op: args of container manager: --solver-image (spec.template.spec.containers[0].args[0])',
      ],
      'op-executor:2.0.0': [
        'Deployment/demo-op: args of container manager: --executor-image (spec.template.spec.containers[0].args[2])',
      ],
      'op-reloader:3.0.0': [
        'Deployment/demo-op: env of container manager: RELOADER_IMAGE (spec.template.spec.containers[0].env[0].value)',
      ],
      'op-default:4.0.0': ['ConfigMap/demo-op-config: data.default (used by Deployment/demo-op)'],
      'op-sidecar:5.0.0': [
        'ConfigMap/demo-op-config: data.config.yaml: sidecar.image (used by Deployment/demo-op)',
      ],
    });
  });

  it('counts a values image the chart renders under the global registry as rendered, and says so', async () => {
    const result = await discoverImages({ chart: await writeOperator(), helm, releaseName: 'demo' });
    const controller = result.images.find((image) => image.reference.includes('op-controller'));
    expect(controller?.sources.slice(1)).toEqual([
      {
        kind: 'values',
        file: expect.stringMatching(/\/op\/values\.yaml$/),
        location: 'controller.image',
        renderedAs: 'registry.example.com:5000/acme/op-controller:1.0.0',
      },
      {
        kind: 'annotation',
        file: expect.stringMatching(/\/op\/Chart\.yaml$/),
        location: 'annotations["artifacthub.io/images"][0]',
        renderedAs: 'registry.example.com:5000/acme/op-controller:1.0.0',
      },
    ]);
    // Only the dashboard, which Chart.yaml declares and no template renders, is left out.
    expect(references(result.notRendered)).toEqual(['registry.example.com:5000/acme/op-dashboard:0.9.0']);
  });
});

describe('--list --json', () => {
  it('marks a values source rendered under another registry with renderedAs, instead of listing it as not rendered', async () => {
    const result = await runExport(['--chart', await writeOperator(), '--list', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const document = JSON.parse(result.stdout) as {
      images: { reference: string; sources: { kind: string; location: string; renderedAs?: string }[] }[];
      notRendered: { reference: string }[];
    };
    const controller = document.images.find((image) => image.reference.includes('op-controller'));
    expect(controller?.sources.find((source) => source.kind === 'values')).toEqual({
      kind: 'values',
      file: expect.stringMatching(/\/op\/values\.yaml$/),
      location: 'controller.image',
      renderedAs: 'registry.example.com:5000/acme/op-controller:1.0.0',
    });
    expect(document.notRendered.map((image) => image.reference)).toEqual([
      'registry.example.com:5000/acme/op-dashboard:0.9.0',
    ]);
  });
});

describe('--why', () => {
  it('prints every place an image was found: template, object, argument, values key', async () => {
    const chart = await writeOperator();
    const result = await runExport([
      '--chart',
      chart,
      '--why',
      'registry.example.com:5000/acme/op-solver:1.0.0',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(
      [
        'registry.example.com:5000/acme/op-solver:1.0.0: exported',
        '  rendered op/templates/deployment.yaml: Deployment/airlock-op: args of container manager: --solver-image (spec.template.spec.containers[0].args[0])',
        `  values ${chart}/values.yaml: solver.image`,
        '',
      ].join('\n'),
    );
  });

  it('names the rendered reference of a values or Chart.yaml finding under another registry', async () => {
    const chart = await writeOperator();
    const result = await runExport([
      '--chart',
      chart,
      '--why',
      'registry.example.com:5000/acme/op-controller',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      'registry.example.com:5000/acme/op-controller:1.0.0: exported',
      '  rendered op/templates/deployment.yaml: Deployment/airlock-op: spec.template.spec.containers[0].image',
      `  values ${chart}/values.yaml: controller.image (rendered as registry.example.com:5000/acme/op-controller:1.0.0)`,
      `  annotation ${chart}/Chart.yaml: annotations["artifacthub.io/images"][0] (rendered as registry.example.com:5000/acme/op-controller:1.0.0)`,
      '',
    ]);
  });

  it('says an image is declared in Chart.yaml but not rendered', async () => {
    const chart = await writeOperator();
    const result = await runExport([
      '--chart',
      chart,
      '--why',
      'registry.example.com:5000/acme/op-dashboard:0.9.0',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      'registry.example.com:5000/acme/op-dashboard:0.9.0: declared in Chart.yaml, not rendered, not exported',
      `  annotation ${chart}/Chart.yaml: annotations["artifacthub.io/images"][1]`,
      '',
    ]);
    expect(result.stderr).toContain(
      'declared in Chart.yaml, not rendered by the chart with these values, not exported (--include-unrendered adds them): registry.example.com:5000/acme/op-dashboard:0.9.0',
    );
  });

  it('exits 1 with one line for an image the chart does not use', async () => {
    const result = await runExport(['--chart', await writeOperator(), '--why', 'quay.io/acme/nothing:1']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n').filter((line) => line.startsWith('error: '))).toEqual([
      'error: quay.io/acme/nothing:1: not found in the chart with these values (rendered, values or Chart.yaml)',
    ]);
  });

  it('refuses a reference that does not parse, as bad input', async () => {
    const result = await runExport(['--chart', await writeOperator(), '--why', 'Not/Valid']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: --why: "Not\/Valid": not a valid image reference/m);
  });
});
