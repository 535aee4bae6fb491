import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { run } from '../../lib/exec/run.ts';
import { readLoadMessages, toRuntimeImages } from '../../lib/runtime/docker.ts';
import { createDockerRuntime, dockerSocketOf } from '../../lib/runtime/index.ts';
import { failingTar, garbageTar, stalledTar, uniqueRepository } from './helpers.ts';
import { type TestImageTar, writeTestImageTar } from './image-tar.ts';

const rig = inject('rig');
let dir: string;
let image: TestImageTar;
/** Docker shows Docker Hub's official images by their familiar name: `airlock-...:1.0`. */
let familiar: string;

const runtime = () => createDockerRuntime({ host: rig.docker.host });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-runtime-docker-'));
  image = await writeTestImageTar(dir, {
    repository: uniqueRepository('docker'),
    label: 'docker',
    pinned: true,
  });
  familiar = (image.names[0] as string).replace('docker.io/library/', '');
});

afterAll(async () => {
  await run('docker', ['-H', rig.docker.host, 'rmi', '--force', familiar]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('docker runtime', () => {
  it('reports the engine version', async () => {
    expect(await runtime().version()).toMatch(/^docker \d+\.\d+\.\d+/);
  });

  it('loads an archive through the Engine API: the tag appears with the config digest as image ID', async () => {
    // The archive also names the image by digest (index.json): Docker ignores that name, it reads manifest.json.
    const result = await runtime().importTar(image.open());
    expect(result.names).toEqual([familiar]);

    const listed = await runtime().listImages();
    expect(listed).toContainEqual({ name: familiar, id: image.configDigest });
    const { stdout } = await run('docker', [
      '-H',
      rig.docker.host,
      'image',
      'inspect',
      familiar,
      '--format',
      '{{.Id}}',
    ]);
    expect(stdout).toBe(image.configDigest);
  });

  it('pins nothing: the daemon keeps the same tags on the same image ID', async () => {
    const listing = async () =>
      (
        await run('docker', [
          '-H',
          rig.docker.host,
          'image',
          'ls',
          '--no-trunc',
          '--format',
          '{{.Repository}}:{{.Tag}} {{.ID}}',
        ])
      ).stdout
        .split('\n')
        .sort();
    const before = await listing();
    expect(before).toContain(`${familiar} ${image.configDigest}`);
    await runtime().pin([familiar]);
    expect(await listing()).toEqual(before);
  });

  it("rejects garbage with Docker's message, although Docker answers 200", async () => {
    await expect(runtime().importTar(garbageTar())).rejects.toMatchObject({
      code: 'COMMAND_FAILED',
      message: expect.stringMatching(/image load failed: .*invalid tar header/),
    });
  });

  it('rejects a truncated archive', async () => {
    const bytes = await readFile(image.path);
    await expect(runtime().importTar(Readable.from([bytes.subarray(0, 1500)]))).rejects.toMatchObject({
      code: 'COMMAND_FAILED',
      message: expect.stringContaining('unexpected EOF'),
    });
  });

  it('reports a failing source rather than what Docker makes of the cut stream', async () => {
    const bytes = await readFile(image.path);
    const broken = new Error('disk read error on the archive');
    await expect(runtime().importTar(failingTar(bytes.subarray(0, 4096), broken))).rejects.toBe(broken);
  });

  it('aborts a load when the signal fires and rejects promptly', async () => {
    const head = (await readFile(image.path)).subarray(0, 2048);
    const controller = new AbortController();
    const loading = runtime().importTar(stalledTar(head), { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('operator pressed ctrl-c')), 300);
    const started = performance.now();
    await expect(loading).rejects.toThrow('operator pressed ctrl-c');
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it('stops a load that exceeds timeoutMs with TIMEOUT', async () => {
    const head = (await readFile(image.path)).subarray(0, 2048);
    await expect(runtime().importTar(stalledTar(head), { timeoutMs: 300 })).rejects.toMatchObject({
      code: 'TIMEOUT',
    });
  });

  it('maps a missing socket to RUNTIME_UNREACHABLE naming it', async () => {
    const missing = join(dir, 'missing.sock');
    await expect(createDockerRuntime({ host: `unix://${missing}` }).listImages()).rejects.toMatchObject({
      code: 'RUNTIME_UNREACHABLE',
      message: expect.stringContaining(`socket ${missing} does not exist`),
    });
  });
});

describe('docker failures', () => {
  it("maps a load that ran out of space to DISK_FULL naming Docker's data root", async () => {
    // A stand-in Engine API: answers the load with 200 and an error message, as Docker does.
    const socketPath = join(dir, 'full-docker.sock');
    const server = createServer((request, response) => {
      if (request.url?.startsWith('/images/load')) {
        request.resume();
        request.once('end', () => {
          response.writeHead(200, { 'Content-Type': 'application/json' });
          const message = 'write /data/docker/tmp/docker-import-1/layer.tar: no space left on device';
          response.end(`${JSON.stringify({ errorDetail: { message }, error: message })}\n`);
        });
        return;
      }
      if (request.url === '/info') {
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify({ DockerRootDir: '/data/docker' }));
        return;
      }
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const full = createDockerRuntime({ host: `unix://${socketPath}` });
      await expect(full.importTar(image.open())).rejects.toMatchObject({
        code: 'DISK_FULL',
        message: expect.stringMatching(/no space left on device .*Docker's data root \/data\/docker/),
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('docker connections', () => {
  it('maps a daemon that accepts the connection and never answers to RUNTIME_UNREACHABLE', async () => {
    const socketPath = join(dir, 'silent-docker.sock');
    const server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const silent = createDockerRuntime({ host: `unix://${socketPath}`, requestTimeoutMs: 300 });
      await expect(silent.listImages()).rejects.toMatchObject({
        code: 'RUNTIME_UNREACHABLE',
        message: `docker at unix://${socketPath}: GET /images/json: no answer within 300ms`,
      });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('maps a daemon that closes the connection without an answer to RUNTIME_UNREACHABLE', async () => {
    const socketPath = join(dir, 'closing-docker.sock');
    const server = createServer((request) => request.socket.destroy());
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      await expect(createDockerRuntime({ host: socketPath }).version()).rejects.toMatchObject({
        code: 'RUNTIME_UNREACHABLE',
        message: `docker at unix://${socketPath}: GET /version: the daemon closed the connection`,
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('Docker host values', () => {
  it('accepts unix:// hosts and bare socket paths', () => {
    expect(dockerSocketOf('unix:///var/run/docker.sock')).toBe('/var/run/docker.sock');
    expect(dockerSocketOf('/var/run/docker.sock')).toBe('/var/run/docker.sock');
    expect(createDockerRuntime({ host: '/var/run/docker.sock' }).endpoint).toBe(
      'unix:///var/run/docker.sock',
    );
  });

  it.each(['tcp://127.0.0.1:2375', 'ssh://node1', 'npipe:////./pipe/docker_engine', 'unix://relative.sock'])(
    'rejects %s as UNSUPPORTED',
    (host) => {
      expect(() => dockerSocketOf(host)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED' }));
    },
  );
});

describe('Docker answers', () => {
  it('lists one image per RepoTag, RepoDigest and ID, with the digest of the same repository', () => {
    const images = toRuntimeImages([
      {
        Id: 'sha256:config',
        RepoTags: ['nginx:1.25', 'localhost:5000/web:1'],
        RepoDigests: ['nginx@sha256:manifest'],
      },
      { Id: 'sha256:dangling', RepoTags: ['<none>:<none>'], RepoDigests: ['<none>@<none>'] },
      { Id: 'sha256:untagged', RepoTags: null, RepoDigests: null },
    ]);
    expect(images).toEqual([
      { name: 'nginx:1.25', id: 'sha256:config', digest: 'sha256:manifest' },
      { name: 'localhost:5000/web:1', id: 'sha256:config', digest: 'sha256:manifest' },
      { name: 'nginx@sha256:manifest', id: 'sha256:config', digest: 'sha256:manifest' },
      { name: 'sha256:config', id: 'sha256:config' },
      { name: 'sha256:dangling', id: 'sha256:dangling' },
      { name: 'sha256:untagged', id: 'sha256:untagged' },
    ]);
  });

  it('collects loaded names and keeps the first error of a load stream', async () => {
    const stream = async function* () {
      yield { stream: 'Loaded image: nginx:1.25\n' };
      yield { stream: 'Loaded image ID: sha256:abc\n' };
      yield {
        errorDetail: { message: 'write /var/lib/docker/tmp/x: no space left on device' },
        error: 'ignored',
      };
      yield { error: 'second' };
    };
    expect(await readLoadMessages(stream())).toEqual({
      names: ['nginx:1.25'],
      error: 'write /var/lib/docker/tmp/x: no space left on device',
    });
  });
});
