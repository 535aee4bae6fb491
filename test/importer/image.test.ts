import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { run } from '../../lib/exec/run.ts';
import { imageRuntimeConfig } from '../../rig/cri.ts';
import {
  ensureImporterImage,
  type ImporterImage,
  loadImageIntoContainerd,
} from '../../rig/importer-image.ts';
import { type PodRuntime, runPod } from '../../rig/kubelet.ts';

const rig = inject('rig');
const runtimes: PodRuntime[] = ['containerd', 'docker'];

// The hook Job's securityContext, as the chart renders it.
const hardened = {
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
} satisfies ISecurityContext;

const podRunning = (image: string, command: string[]): IPodSpec => ({
  containers: [
    {
      name: 'importer',
      image,
      command,
      securityContext: hardened,
      volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
    },
  ],
  volumes: [{ name: 'tmp', emptyDir: {} }],
});

let image: ImporterImage;

beforeAll(async () => {
  image = await ensureImporterImage(rig);
  await loadImageIntoContainerd(rig, image.reference);
}, 900_000);

describe('importer image', () => {
  it('is tagged as the chart appVersion under airlock/importer', async () => {
    const chart = parseYaml(await readFile(resolve(import.meta.dirname, '../../helm/Chart.yaml'), 'utf8'));
    expect(image.reference).toBe(`airlock/importer:${chart.appVersion}`);
    expect(image.id).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('runs the bundled importer with node as its entrypoint and carries OCI labels', async () => {
    const { stdout } = await run('docker', [
      '-H',
      rig.docker.host,
      'image',
      'inspect',
      '--format',
      '{{json .Config.Entrypoint}} {{index .Config.Labels "org.opencontainers.image.version"}}',
      image.reference,
    ]);
    expect(stdout).toBe(`["node","/opt/airlock/importer.mjs"] ${image.reference.split(':')[1]}`);
    const config = await imageRuntimeConfig(rig.containerd.address, image.reference);
    expect(config.Entrypoint).toEqual(['node', '/opt/airlock/importer.mjs']);
  });

  for (const runtime of runtimes) {
    it(`has ctr 1.6 on PATH under a read-only root filesystem (${runtime})`, async () => {
      const result = await runPod(rig, podRunning(image.reference, ['ctr', '--version']), { runtime });
      expect(result).toEqual({
        exitCode: 0,
        logs: expect.stringMatching(/^ctr github.com\/containerd\/containerd v?1\.6\./),
      });
    });

    it(`ships a bundle that the image's node (18 or newer) parses (${runtime})`, async () => {
      const command = ['sh', '-c', 'node --check /opt/airlock/importer.mjs && node --version'];
      const result = await runPod(rig, podRunning(image.reference, command), { runtime });
      expect(result.exitCode, result.logs).toBe(0);
      expect(Number(result.logs.match(/^v(\d+)\./m)?.[1])).toBeGreaterThanOrEqual(18);
    });

    it(`runs the importer as the hook Job does, reaching the node's ${runtime} through the mounted socket`, async () => {
      const socket = runtime === 'docker' ? '/var/run/docker.sock' : '/run/containerd/containerd.sock';
      const spec = podRunning(image.reference, []);
      const container = spec.containers[0]!;
      delete container.command;
      container.env = [
        { name: 'AIRLOCK_RUNTIME', value: 'auto' },
        { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      ];
      container.volumeMounts?.push(
        { name: 'images', mountPath: '/images', readOnly: true },
        { name: 'runtime-socket', mountPath: socket },
      );
      spec.volumes?.push(
        { name: 'images', hostPath: { path: '/var/lib/airlock/images', type: 'Directory' } },
        { name: 'runtime-socket', hostPath: { path: socket, type: 'Socket' } },
      );
      const images = await mkdtemp(join(rig.workDir, 'no-images-'));
      const rigSocket = runtime === 'docker' ? rig.docker.socket : rig.containerd.address;
      const hostPaths = { '/var/lib/airlock/images': images, [socket]: rigSocket };
      const result = await runPod(rig, spec, { runtime, nodeName: 'node-a', hostPaths });
      expect(result.exitCode, result.logs).toBe(0);
      expect(result.logs).toContain('"node":"node-a"');
      expect(result.logs).toContain(`"runtime":"${runtime}"`);
      await rm(images, { recursive: true, force: true });
    });
  }
});
