import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CONTAINERD_SOCKETS, DOCKER_SOCKETS, detectRuntime } from '../../lib/runtime/index.ts';

const rig = inject('rig');
let dir: string;
let missing: string;
let plainFile: string;
let silent: string;
let silentServer: Server;
const silentConnections = new Set<Socket>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-detect-'));
  missing = join(dir, 'missing.sock');
  plainFile = join(dir, 'plain.sock');
  await writeFile(plainFile, '');
  // A socket that accepts connections and never says a word, like a hung daemon.
  silent = join(dir, 'silent.sock');
  silentServer = createServer((connection) => {
    silentConnections.add(connection);
    // Read (and drop) what the prober says, so its hang-up is seen.
    connection.resume();
    connection.once('close', () => silentConnections.delete(connection));
  });
  await new Promise<void>((resolve) => silentServer.listen(silent, resolve));
});

afterAll(async () => {
  // The hang-up reaches the server a moment after the prober gave up: allow it a second.
  for (let wait = 0; silentConnections.size > 0 && wait < 20; wait++) await setTimeout(50);
  const stillOpen = silentConnections.size;
  for (const connection of silentConnections) connection.destroy();
  await new Promise((resolve) => silentServer.close(resolve));
  await rm(dir, { recursive: true, force: true });
  // Every prober must have hung up: a connection still open is a probe that never gave up.
  expect(stillOpen).toBe(0);
});

describe('detectRuntime', () => {
  it('finds k3s/RKE2 containerd at its node path when the standard socket does not answer, before Docker', async () => {
    // The well-known paths, laid out under a private root as on a k3s node that also runs Docker.
    const root = join(dir, 'k3s-node');
    const under = (paths: readonly string[]) => paths.map((path) => join(root, path));
    await mkdir(join(root, 'run/containerd'), { recursive: true });
    await writeFile(join(root, 'run/containerd/containerd.sock'), '');
    await mkdir(join(root, 'run/k3s/containerd'), { recursive: true });
    await symlink(rig.containerd.address, join(root, 'run/k3s/containerd/containerd.sock'));
    await mkdir(join(root, 'var/run'), { recursive: true });
    await symlink(rig.docker.socket, join(root, 'var/run/docker.sock'));
    const runtime = await detectRuntime(
      {},
      { containerd: under(CONTAINERD_SOCKETS), docker: under(DOCKER_SOCKETS) },
    );
    expect(runtime.kind).toBe('containerd');
    expect(runtime.endpoint).toBe(`${root}/run/k3s/containerd/containerd.sock`);
  });

  it('uses an explicit containerd address', async () => {
    const runtime = await detectRuntime({ containerdAddress: rig.containerd.address });
    expect(runtime.kind).toBe('containerd');
    expect(runtime.endpoint).toBe(rig.containerd.address);
    expect(await runtime.version()).toMatch(/^containerd \d/);
  });

  it('uses an explicit Docker host', async () => {
    const runtime = await detectRuntime({ runtime: 'docker', dockerHost: rig.docker.host });
    expect(runtime.kind).toBe('docker');
    expect(runtime.endpoint).toBe(rig.docker.host);
    expect(await runtime.version()).toMatch(/^docker \d/);
  });

  it('tries only the explicit endpoint, even when well-known sockets would answer', async () => {
    await expect(
      detectRuntime({ containerdAddress: missing }, { containerd: [rig.containerd.address], docker: [] }),
    ).rejects.toMatchObject({
      code: 'RUNTIME_UNREACHABLE',
      message: expect.stringContaining(`${missing} (missing)`),
    });
  });

  it('skips a missing path and a plain file, then picks the first socket that answers', async () => {
    const runtime = await detectRuntime(
      { runtime: 'auto' },
      { containerd: [missing, plainFile, rig.containerd.address], docker: [] },
    );
    expect(runtime.kind).toBe('containerd');
    expect(runtime.endpoint).toBe(rig.containerd.address);
  });

  it('prefers containerd over Docker when both answer', async () => {
    const runtime = await detectRuntime(
      {},
      { containerd: [rig.containerd.address], docker: [rig.docker.socket] },
    );
    expect(runtime.kind).toBe('containerd');
  });

  it('tries containerd, then the k3s/RKE2 socket, then Docker, and names each in order', async () => {
    const root = join(dir, 'empty-node');
    const under = (paths: readonly string[]) => paths.map((path) => join(root, path));
    const error = await detectRuntime(
      {},
      { containerd: under(CONTAINERD_SOCKETS), docker: under(DOCKER_SOCKETS) },
    ).catch((failure: unknown) => failure as Error);
    expect((error as Error).message).toContain(
      `${root}/run/containerd/containerd.sock (missing), ${root}/run/k3s/containerd/containerd.sock (missing), ` +
        `${root}/var/run/containerd/containerd.sock (missing), ${root}/var/run/docker.sock (missing)`,
    );
  });

  it('falls back to Docker when no containerd answers', async () => {
    const runtime = await detectRuntime({}, { containerd: [missing], docker: [rig.docker.socket] });
    expect(runtime.kind).toBe('docker');
    expect(runtime.endpoint).toBe(`unix://${rig.docker.socket}`);
  });

  it('tries only containerd when runtime is containerd', async () => {
    await expect(
      detectRuntime({ runtime: 'containerd' }, { containerd: [missing], docker: [rig.docker.socket] }),
    ).rejects.toMatchObject({ code: 'RUNTIME_UNREACHABLE' });
  });

  it('lists every socket tried and why in one RUNTIME_UNREACHABLE message', async () => {
    const error = await detectRuntime(
      { probeTimeoutMs: 500 },
      { containerd: [missing, plainFile], docker: [silent] },
    ).catch((failure: unknown) => failure);
    expect(error).toMatchObject({ code: 'RUNTIME_UNREACHABLE' });
    const { message } = error as Error;
    expect(message).toMatch(/^no container runtime answered: /);
    expect(message).not.toContain('\n');
    expect(message).toContain(`${missing} (missing)`);
    expect(message).toContain(`${plainFile} (not answering: not a socket)`);
    expect(message).toContain(`${silent} (not answering: `);
    expect(message).toContain("mount the node's runtime socket");
  });

  it('gives up on a containerd socket that never answers within the probe timeout', async () => {
    const started = performance.now();
    await expect(
      detectRuntime({ probeTimeoutMs: 500 }, { containerd: [silent], docker: [] }),
    ).rejects.toMatchObject({ message: expect.stringContaining(`${silent} (not answering: `) });
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('rejects a tcp:// Docker host as UNSUPPORTED', async () => {
    await expect(detectRuntime({ dockerHost: 'tcp://127.0.0.1:2375' })).rejects.toMatchObject({
      code: 'UNSUPPORTED',
    });
  });
});
