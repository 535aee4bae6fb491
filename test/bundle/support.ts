// An images directory as the exporter writes it for the hook: the importer runtime of the given platforms,
// archives of fixture images, SHA256SUMS and images.json.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { exportImporterRuntime } from '../../lib/bundle/index.ts';
import { run } from '../../lib/exec/run.ts';
import { writeOutputs } from '../../lib/export/outputs.ts';
import { sha256File } from '../../lib/files.ts';
import { parsePlatform } from '../../lib/oci/index.ts';
import type { RigInfo } from '../../rig/types.ts';
import { type FixtureImage, fixtureImage } from '../archive/fixture-image.ts';
import { uniqueFixture, writeExporterArchive } from '../import/archives.ts';

export interface ImagesDir {
  dir: string;
  fixtures: FixtureImage[];
}

export const writeImagesDir = async (
  platforms: string[],
  fixtures: FixtureImage[],
  parent: string = tmpdir(),
): Promise<ImagesDir> => {
  const dir = await mkdtemp(join(parent, 'airlock-bundle-'));
  const { manifest: importer } = await exportImporterRuntime({
    output: dir,
    platforms: platforms.map(parsePlatform),
    version: '0.1.0',
  });
  const images = [];
  for (const [index, fixture] of fixtures.entries()) {
    const file = `fixture-${index}.tar.gz`;
    const path = await writeExporterArchive(dir, file, fixture);
    images.push({
      reference: fixture.image.names[0] ?? '',
      references: fixture.image.names.slice(0, 1),
      names: fixture.image.names,
      digest: fixture.image.target.descriptor.digest,
      mediaType: fixture.image.target.descriptor.mediaType,
      platforms: ['linux/amd64'],
      file,
      size: 0,
      sha256: await sha256File(path),
      sources: [],
    });
  }
  await writeOutputs(dir, { generator: 'airlock', platforms, images, importer });
  return { dir, fixtures };
};

export const freshFixtures = (label: string): FixtureImage[] => [
  uniqueFixture(`${label}-tag`, { pinned: false }),
  uniqueFixture(`${label}-pin`, { pinned: true }),
];

/**
 * A host image that holds nothing the importer could use: one layer with a single text file, no shell, no libc.
 * Loaded into the rig's containerd (k8s.io) and dockerd under a name of its own.
 */
export const loadEmptyHostImage = async (rig: Pick<RigInfo, 'containerd' | 'docker'>): Promise<string> => {
  const fixture = fixtureImage({
    repository: `docker.io/library/airlock-empty-host-${randomBytes(4).toString('hex')}`,
    tag: 'scratch',
    seed: randomBytes(8).toString('hex'),
  });
  const dir = await mkdtemp(join(tmpdir(), 'airlock-host-image-'));
  const archive = await writeExporterArchive(dir, 'host.tar', fixture);
  await run('ctr', ['--address', rig.containerd.address, '-n', 'k8s.io', 'images', 'import', archive]);
  await run('docker', ['-H', rig.docker.host, 'load', '--input', archive]);
  return fixture.image.names[0] ?? '';
};

/** Replaces a file by an altered copy (a new inode: the exporter's cache, hard-linked, stays intact). */
export const alterFile = async (file: string): Promise<void> => {
  const { readFile } = await import('node:fs/promises');
  const bytes = await readFile(file);
  const partial = `${file}.alter`;
  await writeFile(partial, Buffer.concat([bytes, Buffer.from('\n// altered\n')]));
  await rename(partial, file);
};

const hardened = {
  runAsUser: 0,
  runAsGroup: 0,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  privileged: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' as const },
};

/** The hook's pod as contract 1 fixes it: the runtime's loader command in a host image, /images read-only. */
export const bundlePod = (hostImage: string, loader: string, socket: { path: string }): IPodSpec => {
  const dir = '/images/importer/linux-amd64';
  return {
    containers: [
      {
        name: 'importer',
        image: hostImage,
        command: [
          `${dir}/lib/${loader}`,
          '--library-path',
          `${dir}/lib`,
          `${dir}/bin/node`,
          `${dir}/importer.mjs`,
        ],
        securityContext: hardened,
        env: [{ name: 'AIRLOCK_DIR', value: '/images' }],
        volumeMounts: [
          { name: 'images', mountPath: '/images', readOnly: true },
          { name: 'socket', mountPath: socket.path },
          { name: 'tmp', mountPath: '/tmp' },
        ],
      },
    ],
    volumes: [
      { name: 'images', hostPath: { path: '/images-on-node', type: 'Directory' } },
      { name: 'socket', hostPath: { path: socket.path, type: 'Socket' } },
      { name: 'tmp', emptyDir: {} },
    ],
  };
};
