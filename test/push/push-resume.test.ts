import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type BuiltImage, manyLayersImage, pushImage } from '../../rig/factory/index.ts';
import { runExport, writeChart } from '../export/support.ts';
import type { FaultProxy } from '../registry/fault-proxy.ts';
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
  // Stop the run as the fourth blob upload is being completed: some blobs are whole, the rest are not.
  interrupted.add({
    path: /\/blobs\/uploads\/.*digest=/,
    times: 1000,
    when: () => {
      completions += 1;
      if (completions === 4) controller.abort(new Error('interrupted by the test'));
      return false;
    },
    fault: { kind: 'status', status: 500 },
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
