import { describe, expect, it } from 'vitest';
import { scanAnnotations } from '../../lib/discover/annotations.ts';
import type { LoadedChart } from '../../lib/discover/chart.ts';
import { chartsInContext } from '../../lib/discover/chart-tree.ts';

const chartWith = (
  annotations: Record<string, unknown>,
  subcharts: LoadedChart['subcharts'] = [],
): LoadedChart => ({
  dir: '/c',
  label: 'c',
  metadata: { name: 'c', annotations },
  values: {},
  subcharts,
});

const scan = (chart: LoadedChart) => scanAnnotations(chartsInContext(chart, []));
const written = (chart: LoadedChart) => scan(chart).mentions.map((mention) => mention.written);

describe('scanAnnotations', () => {
  const cases: [string, Record<string, string>, string[]][] = [
    [
      'artifacthub.io/images with whitelisted and platforms',
      {
        'artifacthub.io/images':
          '- name: web\n  image: docker.io/acme/web:1.0\n  whitelisted: true\n  platforms: [linux/amd64, linux/arm64]\n',
      },
      ['docker.io/acme/web:1.0'],
    ],
    [
      'helm.sh/images as {name, image} entries',
      { 'helm.sh/images': '- name: web\n  image: ghcr.io/acme/web:1.0\n- image: ghcr.io/acme/job:1.0\n' },
      ['ghcr.io/acme/web:1.0', 'ghcr.io/acme/job:1.0'],
    ],
    [
      'helm.sh/images as plain strings',
      { 'helm.sh/images': '- ghcr.io/acme/web:1.0\n- busybox:1.36\n' },
      ['ghcr.io/acme/web:1.0', 'busybox:1.36'],
    ],
    [
      "bitnami's images",
      { images: '- name: redis\n  image: docker.io/bitnami/redis:7.2.5-debian-12-r0\n' },
      ['docker.io/bitnami/redis:7.2.5-debian-12-r0'],
    ],
    [
      'all three at once',
      {
        'artifacthub.io/images': '- image: a/b:1\n',
        'helm.sh/images': '- a/b:1\n',
        images: '- image: c/d:2\n',
      },
      ['a/b:1', 'a/b:1', 'c/d:2'],
    ],
    ['unrelated annotations', { category: 'Database', 'artifacthub.io/license': 'MIT' }, []],
  ];
  it.each(cases)('reads %s', (_name, annotations, expected) => {
    expect(written(chartWith(annotations))).toEqual(expected);
  });

  it('names Chart.yaml and the entry as the source', () => {
    expect(scan(chartWith({ 'helm.sh/images': '- a/b:1\n' })).mentions[0]?.source).toEqual({
      kind: 'annotation',
      file: 'c/Chart.yaml',
      location: 'annotations["helm.sh/images"][0]',
    });
  });

  it.each([
    ['not YAML', { images: '- [unclosed' }, /c\/Chart\.yaml: annotation images is not valid YAML, ignored/],
    ['not a list', { 'helm.sh/images': 'image: a/b:1' }, /annotation helm\.sh\/images is not a YAML list/],
    [
      'an entry without image',
      { 'artifacthub.io/images': '- name: web\n' },
      /\[0\]: no image in this entry, ignored/,
    ],
    [
      'a bad reference',
      { 'helm.sh/images': '- Acme/Web:1\n' },
      /\[0\]: skipped "Acme\/Web:1": not a valid image reference/,
    ],
  ])('warns and goes on when an annotation is %s', (_name, annotations, warning) => {
    const result = scan(chartWith(annotations));
    expect(result.mentions).toEqual([]);
    expect(result.warnings).toEqual([expect.stringMatching(warning)]);
  });

  it('reads subcharts and sets apart those switched off by their condition', () => {
    const sub = (name: string): LoadedChart => ({
      ...chartWith({ images: `- image: acme/${name}:1\n` }),
      label: `c/charts/${name}`,
      metadata: { name, annotations: { images: `- image: acme/${name}:1\n` } },
    });
    const parent: LoadedChart = {
      ...chartWith({}),
      values: { on: { enabled: true }, off: { enabled: false } },
      subcharts: [
        { key: 'on', condition: 'on.enabled', chart: sub('on') },
        { key: 'off', condition: 'off.enabled', chart: sub('off') },
      ],
    };
    const result = scan(parent);
    expect(result.mentions.map((mention) => [mention.written, mention.source.file])).toEqual([
      ['acme/on:1', 'c/charts/on/Chart.yaml'],
    ]);
    expect(result.disabled.map((mention) => mention.written)).toEqual(['acme/off:1']);
  });
});
