import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type PushedImage, pushEveryImageType, runExport, writeChart } from '../export/support.ts';
import { uniqueRepository } from '../registry/support/registries.ts';
import {
  blobUploads,
  bodyBytes,
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
}, 300_000);

describe('a push of an exported set', () => {
  it('exits 0 and prints the value for helm install', async () => {
    first = await runPush(['--registry', `${rig.registry.host}/${prefix}`, '--dir', images]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(`--set global.imageRegistry=${rig.registry.host}/${prefix}`);
  });

  it('keeps every digest: each image resolves by digest and by tag in the registry', async () => {
    for (const item of pushed) {
      const target = `${rig.registry.host}/${prefix}/${item.repository}`;
      expect(await skopeoDigest(`${target}@${item.image.digest}`), item.label).toBe(item.image.digest);
      expect(await skopeoDigest(`${target}:${item.tag}`), item.label).toBe(item.image.digest);
    }
  });
});
