import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { imageStatus } from '../../rig/cri.ts';
import { type PodRuntime, runPod } from '../../rig/kubelet.ts';
import { removeContainerdImages } from '../import/run-import.ts';
import { alterFile, bundlePod, freshFixtures, loadEmptyHostImage, writeImagesDir } from './support.ts';

const rig = inject('rig');
const LOADER = 'ld-linux-x86-64.so.2';
const CONTAINERD_SOCKET = '/run/containerd/containerd.sock';
const DOCKER_SOCKET = '/var/run/docker.sock';

let hostImage: string;
const scratch: string[] = [];

beforeAll(async () => {
  hostImage = await loadEmptyHostImage(rig);
}, 600_000);

afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

const runBundle = async (dir: string, runtime: PodRuntime) => {
  const socket = runtime === 'docker' ? DOCKER_SOCKET : CONTAINERD_SOCKET;
  return runPod(rig, bundlePod(hostImage, LOADER, { path: socket }), {
    runtime,
    hostPaths: {
      '/images-on-node': dir,
      [socket]: runtime === 'docker' ? rig.docker.socket : rig.containerd.address,
    },
  });
};

describe('the amd64 runtime in a host image that holds nothing', () => {
  it('imports every archive into containerd, the digest-pinned name included, as the CRI sees it', async () => {
    const fixtures = freshFixtures('bundle-ctrd');
    const images = await writeImagesDir(['linux/amd64'], fixtures);
    scratch.push(images.dir);
    const pod = await runBundle(images.dir, 'containerd');
    expect(pod.logs).toContain('airlock importer');
    expect(pod.exitCode).toBe(0);
    const names = fixtures.flatMap((fixture) => fixture.image.names);
    expect(names.some((name) => name.includes('@sha256:'))).toBe(true);
    for (const name of names) {
      expect((await imageStatus(rig.containerd.address, name)).found, name).toBe(true);
    }
    await removeContainerdImages(rig, names);
  });

  it('imports every archive into dockerd through its socket', async () => {
    const fixtures = freshFixtures('bundle-docker');
    const images = await writeImagesDir(['linux/amd64'], fixtures);
    scratch.push(images.dir);
    const pod = await runBundle(images.dir, 'docker');
    expect(pod.exitCode).toBe(0);
    expect(pod.logs).toMatch(/docker/i);
    const { run } = await import('../../lib/exec/run.ts');
    for (const fixture of fixtures) {
      const [tag] = fixture.image.dockerRepoTags;
      if (!tag) continue;
      const { stdout } = await run('docker', [
        '-H',
        rig.docker.host,
        'image',
        'inspect',
        '--format',
        '{{.Id}}',
        tag,
      ]);
      expect(stdout).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
  });

  for (const [fault, file, apply, reason] of [
    ['removed', 'importer/linux-amd64/bin/ctr', (path: string) => rm(path), 'listed in SHA256SUMS, missing'],
    ['altered', 'importer/linux-amd64/importer.mjs', alterFile, 'altered: sha256 does not match SHA256SUMS'],
    [
      'altered',
      'importer/linux-amd64/importer-main.mjs',
      alterFile,
      'altered: sha256 does not match SHA256SUMS',
    ],
    ['altered', 'importer/linux-amd64/bin/node', alterFile, 'altered: sha256 does not match SHA256SUMS'],
    ['altered', 'importer/linux-amd64/bin/ctr', alterFile, 'altered: sha256 does not match SHA256SUMS'],
    ['altered', 'importer/linux-amd64/lib/libc.so.6', alterFile, 'altered: sha256 does not match SHA256SUMS'],
  ] as const) {
    it(`stops with one line naming a ${fault} runtime file (${file}) and imports nothing`, async () => {
      const fixtures = freshFixtures(`bundle-${fault}`);
      const images = await writeImagesDir(['linux/amd64'], fixtures);
      scratch.push(images.dir);
      await apply(join(images.dir, file));
      const pod = await runBundle(images.dir, 'containerd');
      expect(pod.exitCode).toBe(1);
      expect(pod.logs.trim().split('\n')).toEqual([
        `error: ${file}: ${reason} — copy the exported images directory to this node again`,
      ]);
      for (const name of fixtures.flatMap((fixture) => fixture.image.names)) {
        expect((await imageStatus(rig.containerd.address, name)).found, name).toBe(false);
      }
    });
  }
});
