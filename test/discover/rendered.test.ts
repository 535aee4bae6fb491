import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { scanRendered } from '../../lib/discover/rendered.ts';

const podSpec = (image = 'acme/app:1') => ({
  initContainers: [{ name: 'init', image: 'busybox:1.36' }],
  containers: [{ name: 'app', image, imagePullPolicy: 'IfNotPresent' }],
});
const template = (image?: string) => ({ metadata: { labels: { app: 'x' } }, spec: podSpec(image) });
const manifest = (kind: string, spec: unknown, apiVersion = 'apps/v1') => ({
  apiVersion,
  kind,
  metadata: { name: 'x' },
  spec,
});
const render = (...documents: unknown[]) =>
  documents
    .map((document, index) => `---\n# Source: c/templates/t${index}.yaml\n${stringify(document)}`)
    .join('');
const locations = (text: string) =>
  scanRendered(text).mentions.map((mention) => `${mention.written} @ ${mention.source.location}`);

describe('scanRendered', () => {
  const workloads: [string, unknown, string][] = [
    ['Pod', manifest('Pod', podSpec(), 'v1'), 'spec'],
    ['Deployment', manifest('Deployment', { template: template() }), 'spec.template.spec'],
    ['StatefulSet', manifest('StatefulSet', { template: template() }), 'spec.template.spec'],
    ['DaemonSet', manifest('DaemonSet', { template: template() }), 'spec.template.spec'],
    ['ReplicaSet', manifest('ReplicaSet', { template: template() }), 'spec.template.spec'],
    [
      'ReplicationController',
      manifest('ReplicationController', { template: template() }, 'v1'),
      'spec.template.spec',
    ],
    ['Job', manifest('Job', { template: template() }, 'batch/v1'), 'spec.template.spec'],
    [
      'CronJob',
      manifest(
        'CronJob',
        { schedule: '@daily', jobTemplate: { spec: { template: template() } } },
        'batch/v1',
      ),
      'spec.jobTemplate.spec.template.spec',
    ],
    [
      'PodTemplate',
      { apiVersion: 'v1', kind: 'PodTemplate', metadata: { name: 'x' }, template: template() },
      'template.spec',
    ],
    [
      'a custom resource embedding a pod template (Argo Rollout)',
      manifest('Rollout', { template: template() }, 'argoproj.io/v1alpha1'),
      'spec.template.spec',
    ],
  ];
  it.each(workloads)('finds containers and init containers of a %s', (_name, document, specPath) => {
    const kind = (document as { kind: string }).kind;
    expect(locations(render(document))).toEqual([
      `busybox:1.36 @ ${kind}/x: ${specPath}.initContainers[0].image`,
      `acme/app:1 @ ${kind}/x: ${specPath}.containers[0].image`,
    ]);
  });

  it('finds ephemeral containers', () => {
    const pod = manifest(
      'Pod',
      { containers: [], ephemeralContainers: [{ name: 'dbg', image: 'acme/debug:1' }] },
      'v1',
    );
    expect(locations(render(pod))).toEqual(['acme/debug:1 @ Pod/x: spec.ephemeralContainers[0].image']);
  });

  it('finds image volumes, which kubelet pulls too', () => {
    const pod = manifest(
      'Pod',
      {
        containers: [],
        volumes: [
          { name: 'models', image: { reference: 'ghcr.io/acme/models:1', pullPolicy: 'IfNotPresent' } },
        ],
      },
      'v1',
    );
    const { mentions } = scanRendered(render(pod));
    expect(mentions).toEqual([
      {
        written: 'ghcr.io/acme/models:1',
        pullPolicy: 'IfNotPresent',
        source: {
          kind: 'rendered',
          file: 'c/templates/t0.yaml',
          location: 'Pod/x: spec.volumes[0].image.reference',
        },
      },
    ]);
  });

  it('finds image fields of custom resources (Prometheus spec.image)', () => {
    const prometheus = manifest(
      'Prometheus',
      { image: 'quay.io/prometheus/prometheus:v2.53.0', replicas: 1 },
      'monitoring.coreos.com/v1',
    );
    expect(locations(render(prometheus))).toEqual([
      'quay.io/prometheus/prometheus:v2.53.0 @ Prometheus/x: spec.image',
    ]);
  });

  it('records imagePullPolicy and the template each image came from', () => {
    const { mentions } = scanRendered(render(manifest('Deployment', { template: template() })));
    expect(mentions[1]).toEqual({
      written: 'acme/app:1',
      pullPolicy: 'IfNotPresent',
      source: {
        kind: 'rendered',
        file: 'c/templates/t0.yaml',
        location: 'Deployment/x: spec.template.spec.containers[0].image',
      },
    });
  });

  it('reads every document, hooks included, and items of a List', () => {
    const hook = {
      ...manifest('Job', { template: template('acme/migrate:1') }, 'batch/v1'),
      metadata: { name: 'migrate', annotations: { 'helm.sh/hook': 'pre-install' } },
    };
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: [manifest('Pod', { containers: [{ name: 'a', image: 'acme/listed:1' }] }, 'v1')],
    };
    const images = scanRendered(render(hook, list)).mentions.map((mention) => mention.written);
    expect(images).toEqual(['busybox:1.36', 'acme/migrate:1', 'acme/listed:1']);
  });

  it.each([
    [
      'ConfigMap data',
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { image: 'not/run:1' } },
    ],
    [
      'a CRD schema',
      {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: 'x' },
        spec: {
          versions: [
            { schema: { openAPIV3Schema: { properties: { image: { type: 'string', default: 'a/b:1' } } } } },
          ],
        },
      },
    ],
    [
      'metadata',
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'x', labels: { image: 'a' } }, spec: {} },
    ],
    ['an empty document', null],
  ])('ignores %s', (_name, document) => {
    expect(scanRendered(render(document)).mentions).toEqual([]);
  });

  it('refuses a container whose image does not parse, naming template and container', () => {
    expect(() =>
      scanRendered(render(manifest('Pod', { containers: [{ name: 'a', image: 'Acme/App' }] }, 'v1'))),
    ).toThrow(
      /^c\/templates\/t0\.yaml: Pod\/x: spec\.containers\[0\]\.image: "Acme\/App": not a valid image reference/,
    );
  });

  it('refuses a container with an empty image', () => {
    expect(() =>
      scanRendered(render(manifest('Pod', { containers: [{ name: 'a', image: '' }] }, 'v1'))),
    ).toThrow(/Pod\/x: spec\.containers\[0\]\.image: container has an empty image/);
  });

  it('warns about and skips a custom resource image field that is not a reference', () => {
    const result = scanRendered(render(manifest('Thing', { image: 'Not An Image' }, 'acme.io/v1')));
    expect(result.mentions).toEqual([]);
    expect(result.warnings).toEqual([
      expect.stringMatching(/^c\/templates\/t0\.yaml: Thing\/x: spec\.image: skipped/),
    ]);
  });

  it('refuses output that is not YAML, naming the template', () => {
    expect(() => scanRendered('---\n# Source: c/templates/bad.yaml\na: [\n')).toThrow(
      /^c\/templates\/bad\.yaml: helm rendered invalid YAML/,
    );
  });
});
