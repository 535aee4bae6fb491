import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { run } from '../../lib/exec/run.ts';
import { parseImportedNames, probeContainerd } from '../../lib/runtime/containerd.ts';
import { createContainerdRuntime } from '../../lib/runtime/index.ts';
import { parseImageList } from './ctr-images.ts';
import { failingTar, garbageTar, processRunning, stalledTar, uniqueRepository } from './helpers.ts';
import { type TestImageTar, writeTestImageTar } from './image-tar.ts';

const rig = inject('rig');
const NAMESPACE = 'k8s.io';
// Its own namespace makes the aborted ctr easy to find among the other tests' processes.
const ABORT_NAMESPACE = `airlock-abort-${process.pid}`;
let dir: string;
let image: TestImageTar;
const created: string[] = [];

const ctr = (...args: string[]) =>
  run('ctr', ['--address', rig.containerd.address, '-n', NAMESPACE, ...args]);
const runtime = () => createContainerdRuntime({ address: rig.containerd.address, namespace: NAMESPACE });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-runtime-ctr-'));
  image = await writeTestImageTar(dir, { repository: uniqueRepository('ctr'), label: 'ctr', pinned: true });
  created.push(...image.names);
});

afterAll(async () => {
  // The CRI plugin adds a `sha256:<config>` name of its own to every image it sees.
  await ctr('images', 'rm', ...created, image.configDigest).catch(() => undefined);
  // The aborted import's lease goes away a moment after ctr died; until then the namespace is not empty.
  for (let attempt = 0; attempt < 20; attempt++) {
    const removed = await run('ctr', [
      '--address',
      rig.containerd.address,
      'namespaces',
      'rm',
      ABORT_NAMESPACE,
    ]).then(
      () => true,
      () => false,
    );
    if (removed) break;
    await setTimeout(250);
  }
  await rm(dir, { recursive: true, force: true });
});

describe('containerd runtime', () => {
  it('reports the server version', async () => {
    expect(await runtime().version()).toMatch(/^containerd \d+\.\d+\.\d+/);
  });

  it('imports a tar stream: both names exist with the manifest digest, and listImages shows them', async () => {
    const result = await runtime().importTar(image.open());
    expect(result.names.sort()).toEqual([...image.names].sort());

    const listed = await runtime().listImages();
    for (const name of image.names) {
      expect(listed).toContainEqual({ name, digest: image.digest });
    }
    const rows = parseImageList((await ctr('images', 'ls')).stdout);
    expect(rows.find((row) => row.name === image.names[0])?.digest).toBe(image.digest);
  });

  it('lists only the names asked for, digest names included, in batches past 256 names', async () => {
    await runtime().importTar(image.open());
    const absent = Array.from({ length: 300 }, (_, n) => `registry.invalid/absent/image-${n}:1`);
    const listed = await runtime().listImages([...absent, ...image.names]);
    expect(listed.sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      [...image.names].sort().map((name) => ({ name, digest: image.digest })),
    );
    expect(image.names.some((name) => name.includes('@sha256:'))).toBe(true);
    expect(await runtime().listImages([])).toEqual([]);
  });

  it('pins each image with io.cri-containerd.pinned=pinned', async () => {
    await runtime().importTar(image.open());
    await runtime().pin(image.names);
    // ctr's own listing, read as text: the label kubelet's image GC honours, spelled out.
    const lines = (await ctr('images', 'ls')).stdout.split('\n');
    for (const name of image.names) {
      const line = lines.find((candidate) => candidate.startsWith(`${name} `));
      expect(line, name).toMatch(/[\s,]io\.cri-containerd\.pinned=pinned(,|\s|$)/);
    }
    // The label is all that changed: every name still points at the manifest it was imported with.
    expect(await runtime().listImages(image.names)).toEqual(
      expect.arrayContaining(image.names.map((name) => ({ name, digest: image.digest }))),
    );
  });

  it('rejects pinning an image that does not exist with NOT_FOUND', async () => {
    const missing = `${uniqueRepository('missing')}:1.0`;
    await expect(runtime().pin([missing])).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining(missing),
    });
  });

  it("rejects a corrupt tar stream with ctr's own words", async () => {
    await expect(runtime().importTar(garbageTar())).rejects.toMatchObject({
      code: 'COMMAND_FAILED',
      message: expect.stringContaining('invalid tar header'),
    });
  });

  it('rejects a truncated archive', async () => {
    const bytes = await readFile(image.path);
    const truncated = Readable.from([bytes.subarray(0, 1500)]);
    await expect(runtime().importTar(truncated)).rejects.toMatchObject({
      code: 'COMMAND_FAILED',
      message: expect.stringContaining('unexpected EOF'),
    });
  });

  it('reports a failing source rather than the EOF ctr then sees', async () => {
    const bytes = await readFile(image.path);
    const broken = new Error('disk read error on the archive');
    await expect(runtime().importTar(failingTar(bytes.subarray(0, 4096), broken))).rejects.toBe(broken);
  });

  it('kills ctr when the signal aborts and rejects promptly', async () => {
    const namespace = ABORT_NAMESPACE;
    const aborting = createContainerdRuntime({ address: rig.containerd.address, namespace });
    const head = (await readFile(image.path)).subarray(0, 2048);
    const controller = new AbortController();
    const importing = aborting.importTar(stalledTar(head), { signal: controller.signal });
    await setTimeout(500);
    expect(await processRunning(`-n ${namespace} images import`)).toBe(true);

    const started = performance.now();
    controller.abort(new Error('operator pressed ctrl-c'));
    await expect(importing).rejects.toThrow('operator pressed ctrl-c');
    expect(performance.now() - started).toBeLessThan(3000);
    expect(await processRunning(`-n ${namespace} images import`)).toBe(false);
  });

  it('stops an import that exceeds timeoutMs with TIMEOUT', async () => {
    const head = (await readFile(image.path)).subarray(0, 2048);
    await expect(runtime().importTar(stalledTar(head), { timeoutMs: 300 })).rejects.toMatchObject({
      code: 'TIMEOUT',
      message: expect.stringContaining(rig.containerd.address),
    });
  });

  it('maps a socket that does not answer to RUNTIME_UNREACHABLE', async () => {
    const notASocket = join(dir, 'plain.sock');
    await writeFile(notASocket, '');
    const dead = createContainerdRuntime({ address: notASocket });
    await expect(dead.listImages()).rejects.toMatchObject({
      code: 'RUNTIME_UNREACHABLE',
      message: expect.stringContaining(notASocket),
    });
    await expect(dead.importTar(image.open())).rejects.toMatchObject({ code: 'RUNTIME_UNREACHABLE' });
    await expect(dead.pin(image.names)).rejects.toMatchObject({
      code: 'RUNTIME_UNREACHABLE',
      message: expect.stringContaining(notASocket),
    });
  });

  it('reports TOOL_MISSING when ctr is not installed: from the probe, and from an import', async () => {
    const ctrPath = '/nonexistent/ctr';
    await expect(probeContainerd(rig.containerd.address, { ctrPath })).rejects.toMatchObject({
      code: 'TOOL_MISSING',
      subject: ctrPath,
    });
    const noCtr = createContainerdRuntime({ address: rig.containerd.address, ctrPath });
    await expect(noCtr.importTar(image.open())).rejects.toMatchObject({ code: 'TOOL_MISSING' });
  });

  it("answers the probe with containerd's own version, as `ctr version` prints it", async () => {
    const { stdout } = await ctr('version');
    const server = stdout.split(/^Server:\s*$/m)[1]?.match(/^\s*Version:\s*(\S+)/m)?.[1];
    expect(server).toBeTruthy();
    expect(await probeContainerd(rig.containerd.address)).toBe(`containerd ${server}`);
  });
});

/** A stand-in for ctr that reads its stdin like the real one and then fails with `stderr`. */
const failingCtr = async (name: string, stderr: string): Promise<string> => {
  const path = join(dir, name);
  const script = [
    '#!/bin/sh',
    'case "$*" in',
    // What `ctr plugins ls --detailed` says about the content store, from which the root is read.
    `  *plugins*) printf 'Type: io.containerd.content.v1\\nExports:\\n   root  /data/containerd/io.containerd.content.v1.content\\n'; exit 0;;`,
    'esac',
    'cat > /dev/null',
    `echo '${stderr}' >&2`,
    'exit 1',
  ].join('\n');
  await writeFile(path, `${script}\n`);
  await chmod(path, 0o755);
  return path;
};

describe('ctr failures', () => {
  it('maps "no space left on device" to DISK_FULL naming containerd\'s root', async () => {
    const ctrPath = await failingCtr(
      'ctr-full',
      'ctr: failed to extract layer sha256:abc: write /data/containerd/tmpmounts/x: no space left on device',
    );
    const full = createContainerdRuntime({ address: rig.containerd.address, ctrPath });
    await expect(full.importTar(image.open())).rejects.toMatchObject({
      code: 'DISK_FULL',
      message: expect.stringContaining("free space under containerd's root /data/containerd"),
    });
  });

  it('maps a containerd that went away mid-import to RUNTIME_UNREACHABLE, which the caller retries', async () => {
    const ctrPath = await failingCtr(
      'ctr-gone',
      'ctr: rpc error: code = Unavailable desc = error reading from server: EOF',
    );
    const gone = createContainerdRuntime({ address: rig.containerd.address, ctrPath });
    await expect(gone.importTar(image.open())).rejects.toMatchObject({
      code: 'RUNTIME_UNREACHABLE',
      message: expect.stringContaining('error reading from server'),
    });
  });
});

describe('ctr output parsing', () => {
  it('reads REF, TYPE, DIGEST and LABELS from `ctr images ls`, with a space inside SIZE', () => {
    const stdout = [
      'REF                       TYPE                                       DIGEST        SIZE     PLATFORMS               LABELS',
      'docker.io/library/a:1.0   application/vnd.oci.image.index.v1+json    sha256:aaa    81.8 KiB linux/amd64,linux/arm64 io.cri-containerd.image=managed,io.cri-containerd.pinned=pinned',
      'docker.io/library/b:2     application/vnd.oci.image.manifest.v1+json sha256:bbb    1.2 MiB  linux/amd64             -',
    ].join('\n');
    expect(parseImageList(stdout)).toEqual([
      {
        name: 'docker.io/library/a:1.0',
        mediaType: 'application/vnd.oci.image.index.v1+json',
        digest: 'sha256:aaa',
        labels: { 'io.cri-containerd.image': 'managed', 'io.cri-containerd.pinned': 'pinned' },
      },
      {
        name: 'docker.io/library/b:2',
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: 'sha256:bbb',
        labels: {},
      },
    ]);
  });

  it('reads the imported names from the unpacking lines', () => {
    const stdout =
      'unpacking docker.io/library/a:1.0 (sha256:0a1b)...done\nunpacking docker.io/library/a@sha256:0a1b (sha256:0a1b)...done\n';
    expect(parseImportedNames(stdout)).toEqual([
      'docker.io/library/a:1.0',
      'docker.io/library/a@sha256:0a1b',
    ]);
  });
});
