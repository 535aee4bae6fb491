import { describe, expect, it } from 'vitest';
import type { LoadedChart, Subchart } from '../../lib/discover/chart.ts';
import { chartsInContext, type ValuesLayer } from '../../lib/discover/chart-tree.ts';
import { referenceFromImageMap, scanValues } from '../../lib/discover/values.ts';
import type { Values } from '../../lib/discover/yaml-file.ts';

const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

const chartOf = (
  name: string,
  values: Values,
  options: { appVersion?: string; subcharts?: Subchart[] } = {},
) =>
  ({
    dir: `/charts/${name}`,
    label: name,
    metadata: { name, ...(options.appVersion ? { appVersion: options.appVersion } : {}) },
    values,
    subcharts: options.subcharts ?? [],
  }) satisfies LoadedChart;

describe('referenceFromImageMap', () => {
  const cases: [
    string,
    Values,
    { key?: string; globalRegistry?: string; appVersion?: string },
    string | undefined,
  ][] = [
    [
      'bitnami {registry, repository, tag}',
      { registry: 'docker.io', repository: 'bitnami/redis', tag: '7.2.5', digest: '' },
      {},
      'docker.io/bitnami/redis:7.2.5',
    ],
    [
      'bitnami: global.imageRegistry wins over registry',
      { registry: 'docker.io', repository: 'bitnami/redis', tag: '7.2.5' },
      { globalRegistry: 'registry.internal:5000' },
      'registry.internal:5000/bitnami/redis:7.2.5',
    ],
    [
      'bitnami: a digest replaces the tag',
      { registry: 'docker.io', repository: 'bitnami/redis', tag: '7.2.5', digest: DIGEST },
      {},
      `docker.io/bitnami/redis@${DIGEST}`,
    ],
    [
      'ingress-nginx {registry, image, tag, digest}: tag and digest',
      { registry: 'registry.k8s.io', image: 'ingress-nginx/controller', tag: 'v1.11.2', digest: DIGEST },
      {},
      `registry.k8s.io/ingress-nginx/controller:v1.11.2@${DIGEST}`,
    ],
    [
      'ingress-nginx `sha` without algorithm is a sha256 digest',
      {
        registry: 'registry.k8s.io',
        image: 'ingress-nginx/controller',
        tag: 'v1.9.0',
        sha: '0123456789abcdef'.repeat(4),
      },
      {},
      `registry.k8s.io/ingress-nginx/controller:v1.9.0@${DIGEST}`,
    ],
    [
      '{repository, tag} with the registry in the repository (cert-manager)',
      { repository: 'quay.io/jetstack/cert-manager-controller', tag: 'v1.15.0', pullPolicy: 'IfNotPresent' },
      {},
      'quay.io/jetstack/cert-manager-controller:v1.15.0',
    ],
    [
      'an empty tag falls back to appVersion',
      { repository: 'acme/web', tag: '' },
      { appVersion: '2.4.1' },
      'acme/web:2.4.1',
    ],
    [
      'a missing tag falls back to appVersion',
      { repository: 'acme/web' },
      { appVersion: '2.4.1' },
      'acme/web:2.4.1',
    ],
    ['no tag and no appVersion leaves the tag off', { repository: 'acme/web' }, {}, 'acme/web'],
    ['a numeric tag is read as written by YAML', { repository: 'acme/web', tag: 1.5 }, {}, 'acme/web:1.5'],
    ['{name, tag} under an image key', { name: 'nginx', tag: '1.27' }, {}, 'nginx:1.27'],
    [
      'a trailing slash on the registry is dropped',
      { registry: 'ghcr.io/', repository: 'acme/web', tag: '1' },
      {},
      'ghcr.io/acme/web:1',
    ],
    [
      'global.imageRegistry ignored by maps without a registry key',
      { repository: 'acme/web', tag: '1' },
      { globalRegistry: 'mirror.local' },
      'acme/web:1',
    ],
    [
      '{name, tag} under a key that is not about images',
      { name: 'web', tag: '1' },
      { key: 'service' },
      undefined,
    ],
    ['a chart repository map', { repository: 'https://charts.example.com' }, { key: 'chart' }, undefined],
    ['{name} without a tag', { name: 'web' }, {}, undefined],
    ['a map with neither repository nor image', { pullPolicy: 'IfNotPresent' }, {}, undefined],
  ];
  it.each(cases)('%s', (_name, map, context, expected) => {
    expect(
      referenceFromImageMap(map, {
        key: context.key ?? 'image',
        globalRegistry: context.globalRegistry,
        appVersion: context.appVersion,
      }),
    ).toBe(expected);
  });
});

const scan = (chart: LoadedChart, layers: ValuesLayer[] = []) => scanValues(chartsInContext(chart, layers));
const found = (result: ReturnType<typeof scan>['mentions']) =>
  result.map((mention) => [mention.written, mention.source.location]);

describe('scanValues', () => {
  const cases: [string, Values, [string, string][]][] = [
    ['a string image', { image: 'nginx:1.27' }, [['nginx:1.27', 'image']]],
    [
      'a nested string image',
      { proxy: { image: 'envoyproxy/envoy:v1.31.0' } },
      [['envoyproxy/envoy:v1.31.0', 'proxy.image']],
    ],
    [
      'images in lists',
      { sidecars: [{ name: 'log', image: 'fluent/fluent-bit:3.1' }] },
      [['fluent/fluent-bit:3.1', 'sidecars[0].image']],
    ],
    ['a key ending in Image', { initImage: 'busybox:1.36' }, [['busybox:1.36', 'initImage']]],
    [
      'an image map',
      {
        controller: {
          image: { registry: 'registry.k8s.io', image: 'ingress-nginx/controller', tag: 'v1.11.2' },
        },
      },
      [['registry.k8s.io/ingress-nginx/controller:v1.11.2', 'controller.image']],
    ],
    ['a templated string, which only helm can resolve', { image: '{{ .Values.registry }}/web:1' }, []],
    ['an empty string', { image: '' }, []],
    [
      'keys that merely contain the word',
      { imagePullSecrets: [{ name: 'regcred' }], imagePullPolicy: 'Always' },
      [],
    ],
  ];
  it.each(cases)('finds %s', (_name, values, expected) => {
    expect(found(scan(chartOf('c', values)).mentions)).toEqual(expected);
  });

  it('records the pull policy written next to an image', () => {
    const result = scan(chartOf('c', { image: { repository: 'acme/web', tag: '1', pullPolicy: 'Always' } }));
    expect(result.mentions[0]?.pullPolicy).toBe('Always');
  });

  it('sets apart images under enabled: false', () => {
    const result = scan(
      chartOf('c', { metrics: { enabled: false, image: 'acme/exporter:0.9' }, image: 'acme/web:1' }),
    );
    expect(found(result.mentions)).toEqual([['acme/web:1', 'image']]);
    expect(found(result.disabled)).toEqual([['acme/exporter:0.9', 'metrics.image']]);
  });

  it('warns about and skips a values image that is not a reference', () => {
    const result = scan(chartOf('c', { image: 'Acme/Web:1' }));
    expect(result.mentions).toEqual([]);
    expect(result.warnings).toEqual([
      expect.stringMatching(/^c\/values\.yaml: image: skipped "Acme\/Web:1": not a valid/),
    ]);
  });

  it('names the user values file or --set that set the image', () => {
    const chart = chartOf('c', { image: { repository: 'acme/web', tag: '1' }, job: { image: 'acme/job:1' } });
    const result = scan(chart, [
      { label: 'prod.yaml', values: { image: { tag: '2' } } },
      { label: '--set', values: { job: { image: 'acme/job:3' } } },
    ]);
    expect(result.mentions.map((mention) => [mention.written, mention.source.file])).toEqual([
      ['acme/web:2', 'prod.yaml'],
      ['acme/job:3', '--set'],
    ]);
  });

  it('gives a subchart its key of the parent values and the parent globals', () => {
    const redis = chartOf(
      'redis',
      {
        global: { imageRegistry: '' },
        image: { registry: 'docker.io', repository: 'bitnami/redis', tag: '' },
      },
      { appVersion: '7.2.5' },
    );
    const parent = chartOf(
      'app',
      { global: { imageRegistry: 'mirror.local' }, cache: { image: { tag: '7.4.0' } } },
      { subcharts: [{ key: 'cache', condition: 'cache.enabled', chart: redis }] },
    );
    const result = scan(parent);
    expect(result.mentions.map((mention) => [mention.written, mention.source])).toEqual([
      [
        'mirror.local/bitnami/redis:7.4.0',
        { kind: 'values', file: 'redis/values.yaml', location: 'cache.image' },
      ],
    ]);
  });

  it('uses the subchart appVersion for its empty tags', () => {
    const sub = chartOf('sub', { image: { repository: 'acme/sub', tag: '' } }, { appVersion: '0.3.0' });
    const parent = chartOf('app', {}, { appVersion: '9.9.9', subcharts: [{ key: 'sub', chart: sub }] });
    expect(found(scan(parent).mentions)).toEqual([['acme/sub:0.3.0', 'sub.image']]);
  });

  it('sets apart a subchart whose condition is false, even when set by a user layer', () => {
    const sub = chartOf('sub', { image: 'acme/sub:1' });
    const parent = chartOf(
      'app',
      { sub: { enabled: true } },
      { subcharts: [{ key: 'sub', condition: 'sub.enabled', chart: sub }] },
    );
    const result = scan(parent, [{ label: '--set', values: { sub: { enabled: false } } }]);
    expect(result.mentions).toEqual([]);
    expect(found(result.disabled)).toEqual([['acme/sub:1', 'sub.image']]);
  });
});
