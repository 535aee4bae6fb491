import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { create as createTar } from 'tar';
import { run } from '../lib/exec/run.ts';
import { Annotation, MediaType } from '../lib/oci/index.ts';
import { ociArchitecture } from './pause-image.ts';

/**
 * The smallest image that proves a runtime runs containers: host binaries plus the shared libraries `ldd`
 * names for them, in one uncompressed layer, written as a tar that is both an OCI layout (`ctr images import`)
 * and a Docker archive (`docker load`).
 * No image can be pulled here, and a host binary is the one thing sure to run on the host's kernel.
 */
export interface SmokeImage {
  /** Full name as containerd stores it, e.g. 'docker.io/airlock/smoke:1'. */
  name: string;
  /** The OCI layout + Docker archive tar. */
  tarPath: string;
}

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** Absolute paths of the libraries and loader a dynamically linked binary needs. */
const sharedLibraries = async (binary: string): Promise<string[]> => {
  const { stdout } = await run('ldd', [binary]).catch(() => ({ stdout: '' }));
  return [...stdout.matchAll(/(\/\S+)\s+\(0x/g)].map((match) => match[1]!);
};

const copyInto = async (rootfs: string, path: string): Promise<void> => {
  const target = join(rootfs, path);
  await mkdir(dirname(target), { recursive: true });
  // copyFile follows symlinks: the image gets the library itself under the name the loader looks for.
  await copyFile(path, target);
  await chmod(target, (await stat(path)).mode & 0o7777);
};

const writeBlob = async (layout: string, bytes: Buffer): Promise<{ digest: string; size: number }> => {
  const digest = sha256(bytes);
  await writeFile(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)), bytes);
  return { digest, size: bytes.length };
};

const moveInAsBlob = async (layout: string, path: string): Promise<{ digest: string; size: number }> => {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  const hex = hash.digest('hex');
  const { size } = await stat(path);
  await rename(path, join(layout, 'blobs', 'sha256', hex));
  return { digest: `sha256:${hex}`, size };
};

/** Writes the smoke image's OCI layout tar below `dir`; the first binary is the image's command. */
export const buildSmokeImage = async (options: {
  dir: string;
  name: string;
  binaries: readonly string[];
}): Promise<SmokeImage> => {
  const rootfs = join(options.dir, 'rootfs');
  const layout = join(options.dir, 'layout');
  await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
  const files = new Set<string>();
  for (const binary of options.binaries) {
    files.add(binary);
    for (const library of await sharedLibraries(binary)) files.add(library);
  }
  for (const file of files) await copyInto(rootfs, file);

  const layerPath = join(options.dir, 'layer.tar');
  await createTar({ file: layerPath, cwd: rootfs, portable: true }, ['.']);
  const layer = await moveInAsBlob(layout, layerPath);
  const architecture = ociArchitecture();
  const config = await writeBlob(
    layout,
    Buffer.from(
      JSON.stringify({
        architecture,
        os: 'linux',
        config: { Cmd: [options.binaries[0]] },
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      }),
    ),
  );
  const manifest = await writeBlob(
    layout,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: { mediaType: MediaType.ociConfig, ...config },
        layers: [{ mediaType: MediaType.ociLayer, ...layer }],
      }),
    ),
  );
  const tag = options.name.slice(options.name.lastIndexOf(':') + 1);
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [
        {
          mediaType: MediaType.ociManifest,
          ...manifest,
          platform: { architecture, os: 'linux' },
          annotations: { [Annotation.containerdImageName]: options.name, [Annotation.ociRefName]: tag },
        },
      ],
    }),
  );
  // manifest.json makes the same tar a Docker archive too, for `docker load`.
  const blobPath = (digest: string): string => `blobs/sha256/${digest.slice('sha256:'.length)}`;
  await writeFile(
    join(layout, 'manifest.json'),
    JSON.stringify([
      { Config: blobPath(config.digest), RepoTags: [options.name], Layers: [blobPath(layer.digest)] },
    ]),
  );
  const tarPath = join(options.dir, 'image.tar');
  await createTar({ file: tarPath, cwd: layout, portable: true }, [
    'oci-layout',
    'index.json',
    'manifest.json',
    'blobs',
  ]);
  return { name: options.name, tarPath };
};
