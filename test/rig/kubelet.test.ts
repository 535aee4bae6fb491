import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { run } from '../../lib/exec/run.ts';
import { imageStatus } from '../../rig/cri.ts';
import {
  ensureImporterImage,
  IMPORTER_BASE_IMAGE,
  type ImporterImage,
  loadImageIntoContainerd,
} from '../../rig/importer-image.ts';
import { type PodRuntime, runPod } from '../../rig/kubelet.ts';

const rig = inject('rig');
const runtimes: PodRuntime[] = ['containerd', 'docker'];
const OTHER_DIGEST = `sha256:${'ab'.repeat(32)}`;

let image: ImporterImage;
let nodeImages: string;

beforeAll(async () => {
  image = await ensureImporterImage(rig);
  await loadImageIntoContainerd(rig, image.reference);
  nodeImages = await mkdtemp(join(rig.workDir, 'node-images-'));
  await writeFile(join(nodeImages, 'SHA256SUMS'), 'from the node\n');
}, 900_000);

afterAll(async () => {
  if (nodeImages) await rm(nodeImages, { recursive: true, force: true });
});

// A hook-Job-like pod: the images directory from the node, read-only, and a scratch /tmp.
const podWith = (script: string, extra: Partial<IPodSpec['containers'][number]> = {}): IPodSpec => ({
  containers: [
    {
      name: 'probe',
      image: image.reference,
      command: ['node', '-e', script],
      env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
      securityContext: {
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      },
      volumeMounts: [
        { name: 'images', mountPath: '/images', readOnly: true },
        { name: 'tmp', mountPath: '/tmp' },
      ],
      ...extra,
    },
  ],
  volumes: [
    { name: 'images', hostPath: { path: '/var/lib/airlock/images', type: 'Directory' } },
    { name: 'tmp', emptyDir: {} },
  ],
});

const tryWrite = (path: string) =>
  `try { require('fs').writeFileSync('${path}', 'x'); console.log('${path} writable'); } catch (e) { console.log('${path}', e.code); }`;

describe('runPod', () => {
  for (const runtime of runtimes) {
    const options = () => ({
      runtime,
      nodeName: 'node-a',
      hostPaths: { '/var/lib/airlock/images': nodeImages },
    });

    it(`gives the container spec.nodeName through the downward API (${runtime})`, async () => {
      const result = await runPod(rig, podWith('console.log(process.env.NODE_NAME)'), options());
      expect(result).toEqual({ exitCode: 0, logs: 'node-a' });
    });

    it(`mounts a hostPath read-only: files are readable, writes fail (${runtime})`, async () => {
      const script = `console.log(require('fs').readFileSync('/images/SHA256SUMS', 'utf8').trim()); ${tryWrite('/images/new')}`;
      const result = await runPod(rig, podWith(script), options());
      expect(result).toEqual({ exitCode: 0, logs: 'from the node\n/images/new EROFS' });
    });

    it(`keeps the root filesystem read-only and an emptyDir writable (${runtime})`, async () => {
      const result = await runPod(
        rig,
        podWith(`${tryWrite('/opt/airlock/x')} ${tryWrite('/tmp/x')}`),
        options(),
      );
      expect(result.logs).toBe('/opt/airlock/x EROFS\n/tmp/x writable');
    });

    it(`writes through a writable hostPath mount to the mapped rig path (${runtime})`, async () => {
      const spec = podWith(tryWrite('/data/out'), { volumeMounts: [{ name: 'data', mountPath: '/data' }] });
      spec.volumes = [
        { name: 'data', hostPath: { path: '/var/lib/airlock/data', type: 'DirectoryOrCreate' } },
      ];
      const data = join(nodeImages, `data-${runtime}`);
      const result = await runPod(rig, spec, { ...options(), hostPaths: { '/var/lib/airlock/data': data } });
      expect(result.logs).toBe('/data/out writable');
      expect(await readFile(join(data, 'out'), 'utf8')).toBe('x');
    });

    it(`returns the container's exit code and its stderr in the logs (${runtime})`, async () => {
      const result = await runPod(rig, podWith("console.error('failing'); process.exit(7)"), options());
      expect(result).toEqual({ exitCode: 7, logs: 'failing' });
    });

    it(`refuses a hostPath that is not mapped to a rig path (${runtime})`, async () => {
      await expect(runPod(rig, podWith(''), { runtime })).rejects.toThrow(
        /hostPath \/var\/lib\/airlock\/images is not mapped/,
      );
    });
  }

  it('refuses to run an image the node does not have, as kubelet would have to pull it', async () => {
    const spec = podWith('');
    spec.containers[0]!.image = `airlock/importer@${OTHER_DIGEST}`;
    await expect(
      runPod(rig, spec, { runtime: 'containerd', hostPaths: { '/var/lib/airlock/images': nodeImages } }),
    ).rejects.toThrow(/not present in containerd/);
  });
});

describe('runPod command and args', () => {
  const PROBE = 'airlock/kubelet-probe:1';
  const probePod = (container: { command?: string[]; args?: string[] }): IPodSpec => ({
    containers: [{ name: 'probe', image: PROBE, env: [{ name: 'WHO', value: 'args' }], ...container }],
  });

  beforeAll(async () => {
    // An image whose entrypoint and cmd are both visible in the output.
    const dockerfile = `FROM ${IMPORTER_BASE_IMAGE}\nENTRYPOINT ["echo", "entrypoint"]\nCMD ["cmd"]\n`;
    await run('docker', ['-H', rig.docker.host, 'build', '-t', PROBE, '-'], {
      input: dockerfile,
      env: { DOCKER_BUILDKIT: '0' },
    });
    await loadImageIntoContainerd(rig, PROBE);
  }, 300_000);

  for (const runtime of runtimes) {
    it(`keeps the image's entrypoint and cmd when the container sets neither (${runtime})`, async () => {
      expect(await runPod(rig, probePod({}), { runtime })).toEqual({ exitCode: 0, logs: 'entrypoint cmd' });
    });

    it(`appends args to the image's entrypoint, expanding $(VAR) (${runtime})`, async () => {
      const result = await runPod(rig, probePod({ args: ['from', '$(WHO)', '$$(WHO)'] }), { runtime });
      expect(result).toEqual({ exitCode: 0, logs: 'entrypoint from args $(WHO)' });
    });

    it(`replaces entrypoint and cmd when command is set (${runtime})`, async () => {
      const result = await runPod(rig, probePod({ command: ['echo', 'command'] }), { runtime });
      expect(result).toEqual({ exitCode: 0, logs: 'command' });
    });
  }
});

describe('imageStatus (CRI)', () => {
  const ctr = (...args: string[]) =>
    run('ctr', ['--address', rig.containerd.address, '-n', 'k8s.io', ...args]);

  it('finds the importer image by its tag, with the ID Docker gave it', async () => {
    const status = await imageStatus(rig.containerd.address, image.reference);
    expect(status).toMatchObject({ found: true, id: image.id, repoTags: [`docker.io/${image.reference}`] });
  });

  it('does not find the repository pinned to some other digest', async () => {
    const [repository] = image.reference.split(':');
    const status = await imageStatus(rig.containerd.address, `${repository}@${OTHER_DIGEST}`);
    expect(status).toEqual({ found: false, repoTags: [], repoDigests: [], info: {} });
  });

  it('finds a digest-pinned reference only once an image carries that repo@digest name', async () => {
    const { stdout } = await ctr('images', 'ls');
    const line = stdout.split('\n').find((row) => row.startsWith(`docker.io/${image.reference} `));
    const manifestDigest = line?.split(/\s+/)[2];
    expect(manifestDigest).toMatch(/^sha256:/);
    const pinned = `docker.io/airlock/kubelet-test@${manifestDigest}`;
    await ctr('images', 'tag', `docker.io/${image.reference}`, `docker.io/airlock/kubelet-test:pinned`);
    try {
      // Same manifest, different repository and a tag only: the pinned reference names nothing yet.
      expect((await imageStatus(rig.containerd.address, pinned)).found).toBe(false);
      await ctr('images', 'tag', `docker.io/${image.reference}`, pinned);
      // The CRI plugin learns about new names from containerd's event stream, a moment later.
      await vi.waitFor(async () => {
        const status = await imageStatus(rig.containerd.address, pinned);
        expect(status).toMatchObject({ found: true, id: image.id });
        expect(status.repoDigests).toContain(pinned);
      }, 10_000);
    } finally {
      await ctr('images', 'rm', 'docker.io/airlock/kubelet-test:pinned', pinned).catch(() => undefined);
    }
  });
});
