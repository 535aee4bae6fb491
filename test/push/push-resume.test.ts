import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type BuiltImage, manyLayersImage, pushImage } from '../../rig/factory/index.ts';
import type { FaultProxy } from '../../rig/fault-proxy.ts';
import { runExport, writeChart } from '../export/support.ts';
import { uniqueRepository } from '../registry/support/registries.ts';
import { completedBlobDigests, manifestStatus, rig, runPush, scratch, withProxy } from './support.ts';

/** A push stopped half-way, then run again: the second run sends only what the first did not finish. */

const host = rig.registry.host;
let image: BuiltImage;
let repository: string;
let images: string;
const proxies: FaultProxy[] = [];

beforeAll(async () => {
  image = await manyLayersImage({ name: 'push-resume', layers: 14 });
  repository = uniqueRepository('push-resume');
  await pushImage(image, { registry: host, repository, tag: 'v1' });
  const chart = await writeChart([{ name: 'app', image: `${host}/${repository}:v1` }]);
  images = join(await scratch('push-resume'), 'images');
  const exported = await runExport(['--chart', chart, '--output', images]);
  expect(exported.code, exported.stderr).toBe(0);
}, 300_000);

afterAll(async () => {
  for (const proxy of proxies) await proxy.close();
});

const blobsOf = (built: BuiltImage) =>
  built.platforms.flatMap((platform) => [
    platform.config.digest,
    ...platform.layers.map((layer) => layer.digest),
  ]);

const hasBlob = async (target: string, digest: string) => {
  const response = await request(`http://${host}/v2/${target}/blobs/${digest}`, { method: 'HEAD' });
  await response.body.dump();
  return response.statusCode === 200;
};

it('resumes an interrupted push without sending completed blobs again', async () => {
  const prefix = uniqueRepository('resume');
  const target = `${prefix}/${repository}`;
  const interrupted = await withProxy(host);
  const resumed = await withProxy(host);
  proxies.push(interrupted, resumed);
  const controller = new AbortController();
  let completions = 0;
  // Uploads run several at once: from the fourth completion on, the proxy holds each completion, and the run is
  // stopped once the first three blobs are whole in the registry. Some blobs are whole, the rest are not.
  const stopOnceStored = async () => {
    for (let attempt = 0; attempt < 200; attempt += 1) {
      const stored = await Promise.all(blobsOf(image).map((digest) => hasBlob(target, digest)));
      if (stored.filter(Boolean).length >= 3) break;
      await sleep(50);
    }
    controller.abort(new Error('interrupted by the test'));
  };
  interrupted.add({
    path: /\/blobs\/uploads\/.*digest=/,
    times: 1000,
    when: () => {
      completions += 1;
      if (completions === 4) void stopOnceStored();
      return completions >= 4;
    },
    fault: { kind: 'stall', afterBytes: 0 },
  });
  const first = await runPush(
    ['--registry', `${interrupted.host}/${prefix}`, '--dir', images, '--concurrency', '1'],
    {
      signal: controller.signal,
    },
  );
  expect(first.code, first.stderr).toBe(130);
  expect(await manifestStatus(host, target, 'v1')).toBe(404);

  const all = blobsOf(image);
  const present = (
    await Promise.all(all.map(async (digest) => ((await hasBlob(target, digest)) ? [digest] : [])))
  ).flat();
  expect(present.length).toBeGreaterThanOrEqual(3);
  expect(present.length).toBeLessThan(all.length);

  const second = await runPush(['--registry', `${resumed.host}/${prefix}`, '--dir', images]);
  expect(second.code, second.stderr).toBe(0);
  const sent = completedBlobDigests(resumed);
  expect(sent.filter((digest) => present.includes(digest))).toEqual([]);
  expect([...sent, ...present].sort()).toEqual([...new Set(all)].sort());
  expect(await manifestStatus(host, target, 'v1')).toBe(200);
});
