import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifyArchive } from '../../lib/archive/index.ts';
import { run } from '../../lib/exec/run.ts';
import {
  type BuiltImage,
  largeLayerImage,
  multiArchIndex,
  ociImage,
  pushImage,
} from '../../rig/factory/index.ts';
import { type FaultProxy, startFaultProxy } from '../../rig/fault-proxy.ts';
import { uniqueRepository } from '../registry/support/registries.ts';
import { errorLines, readImagesJson, rig, runExport, scratch, writeChart } from './support.ts';

/**
 * Registry and disk faults during an export: each failed image gives one `error:` line naming it and the reason,
 * the other images are still exported, the exit code is 1, and nothing is left under the failed image's final name.
 */

const MIB = 1024 * 1024;
let proxy: FaultProxy;
let small: string;
let large: string;
let multi: string;
let largeImage: BuiltImage;
/** Path of the large layer's blob URL, which the faults below target. */
let largeBlob: RegExp;

// Short timeouts and few retries keep fault runs quick; the defaults are 30 s and 4.
const FAST = ['--timeout', '2', '--retries', '2'];

const push = async (label: string, image: BuiltImage, tag = 'v1') => {
  const repository = uniqueRepository(label);
  await pushImage(image, { registry: rig.registry.host, repository, tag });
  return `${proxy.host}/${repository}:${tag}`;
};

beforeAll(async () => {
  proxy = await startFaultProxy(rig.registry.host);
  small = await push('faults-small', await ociImage({ name: 'export-faults-small' }));
  largeImage = await largeLayerImage({ name: 'export-faults-large', bytes: 3 * MIB });
  large = await push('faults-large', largeImage);
  multi = await push('faults-multi', await multiArchIndex({ name: 'export-faults-multi' }));
  const layer = largeImage.platforms[0]!.layers.reduce((a, b) => (a.size > b.size ? a : b));
  largeBlob = new RegExp(`/blobs/${layer.digest}$`);
});

afterEach(() => proxy.reset());
afterAll(async () => {
  await proxy?.close();
});

/** Exports `images` into a fresh directory; returns the run and the directory's files. */
const exportImages = async (images: string[], extra: string[] = [], output?: string) => {
  const chart = await writeChart(images.map((image, index) => ({ name: `c${index}`, image })));
  const dir = output ?? join(await scratch('faults'), 'images');
  const result = await runExport(['--chart', chart, '--output', dir, ...FAST, ...extra]);
  const files = (await readdir(dir, { withFileTypes: true }).catch(() => []))
    .map((entry) => entry.name)
    .sort();
  return { ...result, dir, files };
};

const exportedReferences = async (dir: string) =>
  (await readImagesJson(dir)).images.map((image) => image.reference);

const archives = (files: string[]) => files.filter((file) => file.endsWith('.tar.gz'));

/** The run failed for `failed` only: one error line with `reason`, the other images exported, no leftovers. */
const expectOnlyFailed = async (
  result: Awaited<ReturnType<typeof exportImages>>,
  failed: string,
  reason: RegExp,
  others: string[],
) => {
  expect(result.code, result.stderr).toBe(1);
  const lines = errorLines(result.stderr, failed);
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(reason);
  expect(await exportedReferences(result.dir)).toEqual([...others].sort());
  expect(archives(result.files)).toHaveLength(others.length);
  expect(result.files.filter((file) => file.endsWith('.partial') || file.startsWith('.'))).toEqual([]);
};

describe('transient registry errors are retried', () => {
  it.each([500, 503])('retries a manifest answered %i and exports the image', async (status) => {
    proxy.add({ path: /\/manifests\/v1$/, fault: { kind: 'status', status } });
    const result = await exportImages([small]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(
      new RegExp(
        `^warning: ${small.replace(/[.]/g, '\\.')}: .* answered HTTP ${status} — retry 1/2 in \\d\\.\\ds$`,
        'm',
      ),
    );
    expect(await exportedReferences(result.dir)).toEqual([small]);
  });

  it('retries a blob answered 503 and exports the image', async () => {
    proxy.add({ path: largeBlob, fault: { kind: 'status', status: 503 } });
    const result = await exportImages([large]);
    expect(result.code, result.stderr).toBe(0);
    expect(proxy.requests.filter((request) => largeBlob.test(request.path))).toHaveLength(2);
  });

  it('waits for Retry-After after a 429, then exports', async () => {
    proxy.add({
      path: /\/manifests\/v1$/,
      fault: { kind: 'status', status: 429, headers: { 'retry-after': '1' } },
    });
    const result = await exportImages([small]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(
      /^warning: .* answered HTTP 429 \(rate limited: wait, or log in for a higher limit\) — retry 1\/2 in 1\.0s$/m,
    );
  });

  it('resumes a blob whose connection is reset mid-transfer with a Range request', async () => {
    proxy.add({ path: largeBlob, fault: { kind: 'reset', afterBytes: MIB } });
    const result = await exportImages([large]);
    expect(result.code, result.stderr).toBe(0);
    const blobRequests = proxy.requests.filter((request) => largeBlob.test(request.path));
    expect(blobRequests.map((request) => request.headers.range)).toEqual([
      undefined,
      expect.stringMatching(/^bytes=\d+-$/),
    ]);
    const [entry] = (await readImagesJson(result.dir)).images;
    const verified = await verifyArchive(join(result.dir, entry!.file));
    expect(verified.images[0]?.digest).toBe(largeImage.digest);
  });
});

describe('faults that fail one image', () => {
  it('rejects blob bytes that do not match their digest', async () => {
    proxy.add({ path: largeBlob, times: 10, fault: { kind: 'corrupt' } });
    const result = await exportImages([small, large]);
    await expectOnlyFailed(
      result,
      large,
      /downloaded bytes hash to sha256:.*corrupted the blob.*\[DIGEST_MISMATCH\]$/,
      [small],
    );
  });

  it('gives up on a blob that stalls, after the retries, with a timeout', async () => {
    proxy.add({ path: largeBlob, times: 10, fault: { kind: 'stall', afterBytes: 64 * 1024 } });
    const result = await exportImages([small, large]);
    await expectOnlyFailed(result, large, /no data for 2s.*stalls \[TIMEOUT\]$/, [small]);
    expect(result.stderr).toMatch(/retry 2\/2/);
  });

  it('reports a tag the registry does not have', async () => {
    const missing = `${proxy.host}/${uniqueRepository('absent')}:v1`;
    const result = await exportImages([small, missing]);
    await expectOnlyFailed(result, missing, /does not exist.*\[NOT_FOUND\]$/, [small]);
  });

  it('reports a platform the index does not have, naming the platforms it has', async () => {
    const result = await exportImages([small, multi], ['--platform', 'linux/s390x']);
    await expectOnlyFailed(result, multi, /linux\/s390x.*linux\/amd64.*\[PLATFORM_MISSING\]$/, [small]);
  });

  it.each([
    [401, { 'www-authenticate': 'Basic realm="airlock-test"' }],
    [403, {}],
  ])(
    'reports a manifest answered %i as denied, other repositories of the host still pulled anonymously',
    async (status, headers) => {
      proxy.add({
        path: /\/manifests\/v1$/,
        when: (request) => request.url?.includes('faults-large') ?? false,
        times: 10,
        fault: { kind: 'status', status, headers },
      });
      const result = await exportImages([small, large]);
      await expectOnlyFailed(result, large, /\[AUTH_DENIED\]$/, [small]);
    },
  );

  it('reports a 401 without any challenge as a registry it cannot speak to', async () => {
    proxy.add({
      path: /\/manifests\/v1$/,
      when: (request) => request.url?.includes('faults-large') ?? false,
      times: 10,
      fault: { kind: 'status', status: 401 },
    });
    const result = await exportImages([small, large]);
    await expectOnlyFailed(
      result,
      large,
      /answered 401 without a Basic or Bearer challenge .*\[UNSUPPORTED\]$/,
      [small],
    );
  });

  it('reports a registry that wants credentials when none are configured', async () => {
    const repository = uniqueRepository('faults-auth');
    const { host, username, password } = rig.authRegistry;
    await pushImage(await ociImage({ name: 'export-faults-small' }), {
      registry: host,
      repository,
      tag: 'v1',
      auth: { username, password },
    });
    const locked = `${host}/${repository}:v1`;
    const result = await exportImages([small, locked]);
    await expectOnlyFailed(result, locked, /\[AUTH_DENIED\]$/, [small]);
  });
});

describe('disk full', () => {
  let mountPoint: string;

  beforeAll(async () => {
    mountPoint = join(await scratch('tmpfs'), 'images');
    await run('mkdir', ['-p', mountPoint]);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint]);
  });
  afterAll(async () => {
    await run('umount', [mountPoint]).catch(() => undefined);
  });

  it('fails the image that does not fit with one DISK_FULL line, leaves no partial file, and a re-run with space completes', async () => {
    // One image at a time: the large archive fills the disk and fails alone; its removed partial leaves room for the small one.
    const first = await exportImages([small, large], ['--concurrency', '1'], mountPoint);
    await expectOnlyFailed(first, large, /no space left on device.*free space in .* \[DISK_FULL\]$/, [small]);

    await run('mount', ['-o', 'remount,size=16m', mountPoint]);
    const second = await exportImages([small, large], ['--concurrency', '1'], mountPoint);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/^skipped .*faults-small/m);
    expect(await exportedReferences(mountPoint)).toEqual([small, large].sort());
    await run('sha256sum', ['-c', 'SHA256SUMS'], { cwd: mountPoint });
  });

  it('fails clearly when not even SHA256SUMS fits, leaving the archives intact', async () => {
    const dir = join(await scratch('tmpfs-lists'), 'images');
    await run('mkdir', ['-p', dir]);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir]);
    try {
      const first = await exportImages([small], [], dir);
      expect(first.code, first.stderr).toBe(0);
      await rm(join(dir, 'images.json'));
      const filler = join(dir, 'filler');
      await run('sh', ['-c', 'head -c 4M /dev/zero > "$1" || true', 'fill', filler]);
      const second = await exportImages([small], [], dir);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/^error: .*could not write SHA256SUMS and images\.json: .*ENOSPC/m);
      await writeFile(filler, '');
      const third = await exportImages([small], [], dir);
      expect(third.code, third.stderr).toBe(0);
    } finally {
      await run('umount', [dir]).catch(() => undefined);
    }
  });
});
