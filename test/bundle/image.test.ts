// `--importer image`: the archive is reproducible and the image runs, from its entrypoint alone, in both runtimes.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { assembleRuntime } from '../../lib/bundle/assemble.ts';
import { runtimeCacheDir } from '../../lib/bundle/cache.ts';
import { buildImporterScript } from '../../lib/bundle/export.ts';
import { writeImporterImage } from '../../lib/bundle/image.ts';
import { readRuntimeLock } from '../../lib/bundle/lock.ts';
import { RUNTIME_PLATFORMS } from '../../lib/bundle/platforms.ts';
import { run } from '../../lib/exec/run.ts';
import { imageStatus } from '../../rig/cri.ts';
import { runPod } from '../../rig/kubelet.ts';

const rig = inject('rig');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-importer-image-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const writeImage = async (label: string, version: string) => {
  const lock = await readRuntimeLock();
  const cacheDir = runtimeCacheDir();
  const runtimes = [];
  for (const platform of RUNTIME_PLATFORMS)
    runtimes.push(await assembleRuntime(lock, platform, { cacheDir }));
  // A layer directory of its own: nothing is reused from an earlier build.
  return writeImporterImage({
    path: join(dir, `${label}.tar`),
    runtimes,
    importerBundle: (await buildImporterScript()).main,
    version,
    layerDir: join(dir, `${label}-layers`),
    compression: 'none',
  });
};

describe('the importer image archive', () => {
  const version = `0.0.0-test.${randomBytes(4).toString('hex')}`;

  it('has the same bytes and digest when built twice from scratch', { timeout: 600_000 }, async () => {
    const first = await writeImage('first', version);
    const second = await writeImage('second', version);
    expect(second.sha256).toBe(first.sha256);
    expect(second.image.target.descriptor.digest).toBe(first.image.target.descriptor.digest);
    expect(first.image.target.descriptor.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(first.image.manifests.map((manifest) => manifest.descriptor.platform?.architecture)).toEqual([
      'amd64',
      'arm64',
    ]);
  });

  it('runs its entrypoint, the loader command, in containerd and in dockerd', {
    timeout: 600_000,
  }, async () => {
    const archive = join(dir, 'first.tar');
    const name = `docker.io/airlock/importer:${version}`;
    await run('ctr', ['--address', rig.containerd.address, '-n', 'k8s.io', 'images', 'import', archive]);
    expect((await imageStatus(rig.containerd.address, name)).found).toBe(true);
    await run('docker', ['-H', rig.docker.host, 'load', '--input', archive]);
    for (const runtime of ['containerd', 'docker'] as const) {
      const pod = await runPod(
        rig,
        {
          containers: [
            {
              name: 'importer',
              image: name,
              args: ['--help'],
              securityContext: { readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            },
          ],
        },
        { runtime },
      );
      expect(pod.exitCode, pod.logs).toBe(0);
      expect(pod.logs.split('\n')[0]).toBe('Usage: importer --dir DIR [options]');
    }
  });
});
