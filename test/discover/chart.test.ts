import { mkdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { c as createTar } from 'tar';
import { describe, expect, it } from 'vitest';
import { openChart } from '../../lib/discover/chart.ts';
import { shopChart, writeTree } from './fixtures.ts';

const withoutSubchart = () =>
  Object.fromEntries(Object.entries(shopChart()).filter(([path]) => !path.startsWith('shop/charts/')));

describe('openChart', () => {
  it('reads Chart.yaml, values.yaml and subcharts keyed by dependency', async () => {
    const root = await writeTree(shopChart());
    const { chart, close } = await openChart(join(root, 'shop'));
    try {
      expect(chart.metadata).toMatchObject({ name: 'shop', appVersion: '2.4.1' });
      expect(chart.values).toMatchObject({ image: { repository: 'acme/web' } });
      expect(chart.subcharts.map((sub) => [sub.key, sub.condition, sub.chart.metadata.name])).toEqual([
        ['cache', 'cache.enabled', 'cache'],
      ]);
      expect(chart.subcharts[0]?.chart.label).toBe(`${join(root, 'shop')}/charts/cache`);
    } finally {
      await close();
    }
  });

  it('keys a subchart by its alias', async () => {
    const files = shopChart();
    files['shop/Chart.yaml'] = files['shop/Chart.yaml']!.replace(
      '  - name: cache\n',
      '  - name: cache\n    alias: sessions\n',
    );
    const { chart, close } = await openChart(join(await writeTree(files), 'shop'));
    await close();
    expect(chart.subcharts.map((sub) => sub.key)).toEqual(['sessions']);
  });

  it('reads a packaged chart and a packaged subchart, removing what it unpacked', async () => {
    const root = await writeTree(shopChart());
    await createTar({ gzip: true, cwd: join(root, 'shop', 'charts'), file: join(root, 'cache-0.1.0.tgz') }, [
      'cache',
    ]);
    const packed = await writeTree(withoutSubchart());
    await mkdir(join(packed, 'shop', 'charts'));
    await rename(join(root, 'cache-0.1.0.tgz'), join(packed, 'shop', 'charts', 'cache-0.1.0.tgz'));
    await createTar({ gzip: true, cwd: packed, file: join(packed, 'shop-0.1.0.tgz') }, ['shop']);

    const { chart, close } = await openChart(join(packed, 'shop-0.1.0.tgz'));
    expect(chart.label).toBe('shop-0.1.0.tgz');
    expect(chart.subcharts[0]?.chart.metadata.appVersion).toBe('7.2.5');
    await stat(chart.dir);
    await close();
    await expect(stat(chart.dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('asks for helm dependency build when a dependency is missing from charts/', async () => {
    const root = await writeTree(withoutSubchart());
    await expect(openChart(join(root, 'shop'))).rejects.toThrow(
      expect.objectContaining({
        code: 'BAD_INPUT',
        message: expect.stringMatching(
          /Chart\.yaml depends on cache \(https:\/\/charts\.example\.com\) but .*\/charts\/ has no cache — run 'helm dependency build .*shop' on a connected host first$/,
        ),
      }),
    );
  });

  it('refuses a directory without Chart.yaml', async () => {
    const root = await writeTree({ 'notachart/values.yaml': 'a: 1\n' });
    await expect(openChart(join(root, 'notachart'))).rejects.toThrow(
      /notachart: no Chart\.yaml — point --chart at a Helm chart/,
    );
  });

  it('refuses a chart path that does not exist', async () => {
    await expect(openChart('/nonexistent/chart')).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: '/nonexistent/chart: chart not found — check the chart path',
    });
  });

  it('names file, line and column of a values.yaml that is not YAML', async () => {
    const root = await writeTree({
      'c/Chart.yaml': 'apiVersion: v2\nname: c\nversion: 0.1.0\n',
      'c/values.yaml': 'image:\n  repository: acme/web\n  tag: [1.0\n',
    });
    await expect(openChart(join(root, 'c'))).rejects.toThrow(
      expect.objectContaining({
        code: 'BAD_INPUT',
        message: expect.stringMatching(/\/c\/values\.yaml:\d+:\d+: not valid YAML: /),
      }),
    );
  });

  it('refuses a Chart.yaml without a name', async () => {
    const root = await writeTree({ 'c/Chart.yaml': 'apiVersion: v2\nversion: 0.1.0\n' });
    await expect(openChart(join(root, 'c'))).rejects.toThrow(/c\/Chart\.yaml: name: /);
  });
});
