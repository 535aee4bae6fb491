import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dockerImage, ociImage, pushImage } from '../../rig/factory/index.ts';
import type { FaultProxy, FaultRule } from '../../rig/fault-proxy.ts';
import { errorLines, runExport, writeChart } from '../export/support.ts';
import { uniqueRepository } from '../registry/support/registries.ts';
import { blobUploads, manifestStatus, rig, runPush, scratch, withProxy } from './support.ts';

/** Registry faults during a push, through the fault proxy: each ends in a clear error or a recovery, never a dangling tag. */

const host = rig.registry.host;
const sources: { repository: string; digest: string }[] = [];
let images: string;
let proxy: FaultProxy | undefined;

beforeAll(async () => {
  for (const [label, image] of [
    ['oci', await ociImage({ name: 'push-faults-oci' })],
    ['docker', await dockerImage({ name: 'push-faults-docker' })],
  ] as const) {
    const repository = uniqueRepository(`push-faults-${label}`);
    await pushImage(image, { registry: host, repository, tag: 'v1' });
    sources.push({ repository, digest: image.digest });
  }
  const chart = await writeChart(
    sources.map((source, index) => ({ name: `c${index}`, image: `${host}/${source.repository}:v1` })),
  );
  images = join(await scratch('push-faults'), 'images');
  const exported = await runExport(['--chart', chart, '--output', images]);
  expect(exported.code, exported.stderr).toBe(0);
}, 300_000);

afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

/** Pushes the set through a proxy with `rules`, under a fresh prefix; the tags' statuses afterwards, read directly. */
const pushWithFaults = async (rules: FaultRule[], extra: string[] = []) => {
  proxy = await withProxy(host);
  for (const rule of rules) proxy.add(rule);
  const prefix = uniqueRepository('faults');
  const result = await runPush([
    '--registry',
    `${proxy.host}/${prefix}`,
    '--dir',
    images,
    '--retries',
    '2',
    ...extra,
  ]);
  const tags = await Promise.all(
    sources.map((source) => manifestStatus(host, `${prefix}/${source.repository}`, 'v1')),
  );
  return { result, tags };
};

const BLOB_PUT = /\/blobs\/uploads\/.*digest=/;
const UPLOAD_START = /\/blobs\/uploads\/$/;

describe('a push through faults', () => {
  it.each([
    ['a 503 once', { kind: 'status', status: 503 } as const],
    [
      'a 429 with Retry-After once',
      { kind: 'status', status: 429, headers: { 'retry-after': '0' } } as const,
    ],
    ['a connection reset once', { kind: 'drop' } as const],
  ])('recovers from %s on a blob upload and tags every image', async (_label, fault) => {
    const { result, tags } = await pushWithFaults([{ path: BLOB_PUT, fault }]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/retry 1\/2/);
    expect(tags).toEqual([200, 200]);
  });

  it.each([
    ['503', { kind: 'status', status: 503 } as const, 'answered HTTP 503', 'NETWORK'],
    [
      '429',
      { kind: 'status', status: 429, headers: { 'retry-after': '0' } } as const,
      '(rate limited)',
      'NETWORK',
    ],
    ['connection resets', { kind: 'drop' } as const, 'connection error', 'NETWORK'],
  ])('fails clearly on %s that never end, and writes no tag', async (_label, fault, message, code) => {
    const { result, tags } = await pushWithFaults([{ path: UPLOAD_START, fault, times: 1000 }]);
    expect(result.code).toBe(1);
    expect(errorLines(result.stderr, message).length, result.stderr).toBe(2);
    expect(result.stderr).toContain(`[${code}]`);
    expect(tags).toEqual([404, 404]);
  });

  it.each([
    [507, []],
    [413, ['--chunk-size', '65536']],
  ])('reports a full registry (HTTP %i) without retrying, and writes no tag', async (status, extra) => {
    const path = extra.length > 0 ? /\/blobs\/uploads\/[^?]+\?/ : BLOB_PUT;
    const { result, tags } = await pushWithFaults(
      [{ path, fault: { kind: 'status', status }, times: 1000 }],
      extra,
    );
    expect(result.code).toBe(1);
    expect(
      errorLines(result.stderr, 'the registry is out of space or over its quota').length,
      result.stderr,
    ).toBe(2);
    expect(result.stderr).toContain('[DISK_FULL]');
    // Other requests may be retried (a keep-alive connection closed under load); the refused upload never is.
    expect(result.stderr).not.toMatch(new RegExp(`HTTP ${status}.*retry \\d/2`));
    expect(tags).toEqual([404, 404]);
  });

  it('uploads in chunks when asked to, with Content-Range, and keeps the digests', async () => {
    const { result, tags } = await pushWithFaults([], ['--chunk-size', '16384']);
    expect(result.code, result.stderr).toBe(0);
    const patches = blobUploads(proxy!).filter((request) => request.method === 'PATCH');
    expect(patches.length).toBeGreaterThan(8);
    expect(patches.every((request) => /^\d+-\d+$/.test(String(request.headers['content-range'])))).toBe(true);
    expect(tags).toEqual([200, 200]);
  });
});
