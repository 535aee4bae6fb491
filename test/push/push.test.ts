import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultProxy } from '../../rig/fault-proxy.ts';
import { type PushedImage, pushEveryImageType, runExport, writeChart } from '../export/support.ts';
import { uniqueRepository } from '../registry/support/registries.ts';
import {
  blobUploads,
  bodyBytes,
  completedBlobDigests,
  type PushRun,
  rig,
  runPush,
  scratch,
  skopeoDigest,
  withProxy,
} from './support.ts';

/** An exported set of every image kind, pushed to the anonymous registry under a prefix and read back. */

let pushed: PushedImage[];
let images: string;
let prefix: string;
let first: PushRun;
let firstProxy: FaultProxy;
let againProxy: FaultProxy;

beforeAll(async () => {
  pushed = await pushEveryImageType('push');
  const chart = await writeChart(pushed.map((item, index) => ({ name: `c${index}`, image: item.written })));
  images = join(await scratch('push'), 'images');
  const exported = await runExport([
    '--chart',
    chart,
    '--output',
    images,
    '--platform',
    'linux/amd64,linux/arm64',
  ]);
  expect(exported.code, exported.stderr).toBe(0);
  prefix = uniqueRepository('mirror');
  firstProxy = await withProxy(rig.registry.host);
  againProxy = await withProxy(rig.registry.host);
}, 300_000);

afterAll(async () => {
  await firstProxy?.close();
  await againProxy?.close();
});

const targetOf = (host: string, item: PushedImage) => `${host}/${prefix}/${item.repository}`;

describe('a push of an exported set', () => {
  it('exits 0, prints the mapping and the value for helm install', async () => {
    first = await runPush(['--registry', `${firstProxy.host}/${prefix}`, '--dir', images]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(`--set global.imageRegistry=${firstProxy.host}/${prefix}`);
    const nested = pushed.find((item) => item.label === 'nested')!;
    expect(first.stderr).toMatch(
      new RegExp(
        `^${rig.registry.host}/${nested.repository}:6\\.0-rc\\.1 +${firstProxy.host}/${prefix}/${nested.repository}:6\\.0-rc\\.1$`,
        'm',
      ),
    );
  });

  it('keeps every digest: each image resolves by digest and by tag in the registry', async () => {
    for (const item of pushed) {
      const target = targetOf(rig.registry.host, item);
      expect(await skopeoDigest(`${target}@${item.image.digest}`), item.label).toBe(item.image.digest);
      expect(await skopeoDigest(`${target}:${item.tag}`), item.label).toBe(item.image.digest);
    }
  });

  it('keeps a multi-arch index whole: both platforms resolve by their own digests', async () => {
    for (const item of pushed.filter(
      (candidate) => candidate.label === 'oci-index' || candidate.label === 'docker-list',
    )) {
      expect(item.image.platforms.length, item.label).toBe(2);
      for (const { manifest } of item.image.platforms) {
        expect(await skopeoDigest(`${targetOf(rig.registry.host, item)}@${manifest.digest}`)).toBe(
          manifest.digest,
        );
      }
    }
  });

  it('uploads no blob again and sends under 5% of the bytes when the set is pushed again', async () => {
    const again = await runPush(['--registry', `${againProxy.host}/${prefix}`, '--dir', images, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(blobUploads(againProxy)).toEqual([]);
    expect(blobUploads(firstProxy).length).toBeGreaterThan(pushed.length);
    expect(bodyBytes(againProxy)).toBeLessThanOrEqual(bodyBytes(firstProxy) * 0.05);
    expect(againProxy.requests.length).toBeLessThan(firstProxy.requests.length / 3);
    const results = (JSON.parse(again.stdout) as { results: { outcome: string }[] }).results;
    expect(results.map((result) => result.outcome)).toEqual(pushed.map(() => 'skipped'));
  });

  it('mounts a layer shared by two repositories from where the run put it, instead of sending it twice, with archives pushed at once', async () => {
    const [one, two] = ['shared-1', 'shared-2'].map((label) => pushed.find((item) => item.label === label)!);
    const layersOf = (item: PushedImage) =>
      item.image.platforms.flatMap((platform) => platform.layers.map((layer) => layer.digest));
    const shared = layersOf(one!).filter((digest) => layersOf(two!).includes(digest));
    expect(shared.length).toBe(1);
    const proxy = await withProxy(rig.registry.host);
    try {
      const result = await runPush([
        '--registry',
        `${proxy.host}/${uniqueRepository('mounts')}`,
        '--dir',
        images,
        '--concurrency',
        '3',
      ]);
      expect(result.code, result.stderr).toBe(0);
      expect(completedBlobDigests(proxy).filter((digest) => digest === shared[0])).toHaveLength(1);
      const mounts = proxy.requests.filter(
        (request) =>
          request.method === 'POST' && request.path.includes(`mount=${encodeURIComponent(shared[0]!)}`),
      );
      expect(mounts).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });
});
