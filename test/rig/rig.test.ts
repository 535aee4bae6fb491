import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { run } from '../../lib/exec/run.ts';
import { containerdVersion } from '../../rig/containerd.ts';
import { dockerGet } from '../../rig/dockerd.ts';
import { helmVersion } from '../../rig/helm.ts';
import { buildSmokeImage, type SmokeImage } from '../../rig/smoke-image.ts';

const rig = inject('rig');

const basic = (username: string, password: string): string =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

const getV2 = async (url: string, authorization?: string) => {
  const response = await request(`${url}/v2/`, { headers: authorization ? { authorization } : {} });
  await response.body.dump();
  return response;
};

const uniqueId = (prefix: string): string => `${prefix}-${randomBytes(4).toString('hex')}`;

// One image for both runtimes, built from host binaries: no image can be pulled here.
let dir: string;
let image: SmokeImage;
beforeAll(async () => {
  dir = await mkdtemp(join(rig.workDir, 'smoke-'));
  image = await buildSmokeImage({
    dir,
    name: 'docker.io/airlock/smoke:1',
    binaries: ['/bin/echo', '/bin/false'],
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('rig containerd', () => {
  const namespace = uniqueId('smoke');
  const ctr = ['--address', rig.containerd.address, '-n', namespace];

  // FIFOs and runc state in the rig's directory, not under /run/containerd where the host's containerd lives.
  const ctrRun = (command: string[]) =>
    run('ctr', [
      ...ctr,
      'run',
      '--rm',
      '--snapshotter',
      rig.containerd.snapshotter,
      '--fifo-dir',
      join(dir, 'fifo'),
      '--runc-root',
      join(dir, 'runc'),
      // No cgroup parent per namespace, which ctr would create and never remove.
      '--cgroup',
      '',
      image.name,
      uniqueId('smoke'),
      ...command,
    ]);

  beforeAll(async () => {
    await run('ctr', [
      ...ctr,
      'images',
      'import',
      '--snapshotter',
      rig.containerd.snapshotter,
      image.tarPath,
    ]);
  });

  it('answers ctr version on its own socket with the version the rig reports', async () => {
    expect(await containerdVersion(rig.containerd.address)).toBe(rig.containerd.version);
    expect(rig.containerd.address.startsWith(rig.workDir)).toBe(true);
  });

  it('serves the CRI image service', async () => {
    const { stdout } = await run('ctr', ['--address', rig.containerd.address, 'plugins', 'ls']);
    expect(stdout).toMatch(/io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok/);
  });

  it('runs an image imported with ctr and hands back its output', async () => {
    const { stdout } = await ctrRun(['/bin/echo', 'hello from the rig']);
    expect(stdout.trim()).toBe('hello from the rig');
  });

  it("passes the container's exit code through ctr run", async () => {
    await expect(ctrRun(['/bin/false'])).rejects.toMatchObject({ exitCode: 1 });
  });
});

describe('rig dockerd', () => {
  const docker = (args: string[]) => run('docker', args, { env: { DOCKER_HOST: rig.docker.host } });

  it('answers the Engine API /_ping and /version on the rig socket', async () => {
    expect(rig.docker.host).toBe(`unix://${rig.docker.socket}`);
    expect(await dockerGet(rig.docker.socket, '/_ping')).toBe('OK');
    const version = JSON.parse(await dockerGet(rig.docker.socket, '/version'));
    expect(version.Version).toBe(rig.docker.version);
  });

  it("runs a loaded image as a container on the rig's containerd", async () => {
    await docker(['load', '--input', image.tarPath]);
    const { stdout } = await docker([
      'run',
      '--rm',
      '--network',
      'none',
      image.name,
      '/bin/echo',
      'hello from docker',
    ]);
    expect(stdout.trim()).toBe('hello from docker');
    const { stdout: namespaces } = await run('ctr', [
      '--address',
      rig.containerd.address,
      'namespaces',
      'ls',
      '-q',
    ]);
    expect(namespaces.split('\n')).toContainEqual(expect.stringMatching(/^rig-docker-[0-9a-f]+$/));
  });
});

describe('rig helm', () => {
  it.each([
    ['v3', () => rig.helm.v3],
    ['v4', () => rig.helm.v4],
  ] as const)('provides a Helm %s binary that prints its version', async (major, binary) => {
    const { path, version } = binary();
    expect(version.startsWith(`${major}.`)).toBe(true);
    expect(await helmVersion(path)).toBe(version);
  });
});

describe('rig registries', () => {
  it('serves the anonymous registry API at /v2/ with the Distribution API version header', async () => {
    const response = await getV2(rig.registry.url);
    expect(response.statusCode).toBe(200);
    expect(response.headers['docker-distribution-api-version']).toBe('registry/2.0');
    expect(rig.registry.url).toBe(`http://${rig.registry.host}`);
  });

  it('rejects anonymous and wrong-password requests to the basic-auth registry with 401', async () => {
    const { url, username, password } = rig.authRegistry;
    const anonymous = await getV2(url);
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Basic realm=/);
    expect((await getV2(url, basic(username, `${password}x`))).statusCode).toBe(401);
  });

  it('accepts the generated credentials at the basic-auth registry', async () => {
    const { url, username, password } = rig.authRegistry;
    expect((await getV2(url, basic(username, password))).statusCode).toBe(200);
  });
});
