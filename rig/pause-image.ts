// The node's sandbox (pause) image: a scratch image holding only Debian's static busybox, whose shell idles as
// PID 1 and exits on SIGTERM (a PID 1 without a handler ignores it). Built from bytes with the image factory,
// so the same busybox gives the same digest on every run, and imported into containerd's k8s.io namespace.
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import { AirlockError } from '../lib/errors.ts';
import { run } from '../lib/exec/run.ts';
import { Annotation, MediaType } from '../lib/oci/index.ts';
import { PAUSE_IMAGE } from './containerd.ts';
import { type BuildOptions, type BuiltImage, buildImage } from './factory/index.ts';
import { ensureCommand } from './packages.ts';

export { PAUSE_IMAGE };

/** Where Debian's busybox-static puts the binary. */
export const STATIC_BUSYBOX = '/bin/busybox';

const GO_ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ppc64: 'ppc64le',
  s390x: 's390x',
};

/** This machine's architecture as OCI names it. */
export const ociArchitecture = (): string => GO_ARCH[process.arch] ?? process.arch;

const packageInstalled = async (name: string): Promise<boolean> => {
  // dpkg's own field syntax, not a template string.
  const format = '-f=$' + '{Status}';
  const { stdout } = await run('dpkg-query', ['-W', format, name]).catch(() => ({ stdout: '' }));
  return stdout.includes('install ok installed');
};

/**
 * The bytes of Debian's static busybox, installed on first use. Debian's dynamic `busybox` package owns the same
 * path, and its binary would not start in a scratch image: refuse it with the package to install.
 */
export const staticBusybox = async (): Promise<Uint8Array> => {
  if (!(await packageInstalled('busybox-static'))) {
    if (await packageInstalled('busybox')) {
      throw new AirlockError(
        'TOOL_MISSING',
        `${STATIC_BUSYBOX}: Debian's dynamically linked busybox is installed — install busybox-static (apt-get install busybox-static)`,
      );
    }
    await ensureCommand('busybox', 'busybox-static');
  }
  return readFile(STATIC_BUSYBOX);
};

// `trap` gives PID 1 a SIGTERM handler; `wait` returns on the signal, so a stop takes no grace period.
const IDLE_SCRIPT = 'trap "exit 0" TERM INT; while true; do /bin/busybox sleep 3600 & wait $!; done';

/** Builds the pause image (OCI, this machine's architecture) into the factory's blob cache. */
export const buildPauseImage = async (options: BuildOptions = {}): Promise<BuiltImage> =>
  buildImage(
    {
      format: 'oci',
      platforms: [
        {
          architecture: ociArchitecture(),
          layers: [{ files: [{ path: STATIC_BUSYBOX, content: await staticBusybox(), mode: 0o755 }] }],
          cmd: [STATIC_BUSYBOX, 'sh', '-c', IDLE_SCRIPT],
          labels: { 'org.opencontainers.image.title': 'airlock pause (busybox)' },
        },
      ],
    },
    options,
  );

export interface ImportTarget {
  /** containerd's socket. */
  address: string;
  /** The snapshotter the CRI plugin uses (RigContainerd.snapshotter): images are unpacked for it. */
  snapshotter: string;
}

/** Writes a built single-manifest image as an OCI layout tar named `name`, for `ctr images import`. */
export const writeOciArchive = async (image: BuiltImage, name: string, file: string): Promise<void> => {
  const layout = await mkdtemp(join(tmpdir(), 'airlock-layout-'));
  try {
    await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
    for (const blob of image.blobs) {
      await copyFile(blob.path, join(layout, 'blobs', 'sha256', blob.digest.slice('sha256:'.length)));
    }
    const tag = name.slice(name.lastIndexOf(':') + 1);
    const platform = image.platforms[0]?.platform;
    const manifest = { mediaType: image.mediaType, digest: image.digest, size: image.size };
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [
        {
          ...manifest,
          ...(image.platforms.length === 1 && platform ? { platform } : {}),
          annotations: { [Annotation.containerdImageName]: name, [Annotation.ociRefName]: tag },
        },
      ],
    };
    await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(join(layout, 'index.json'), JSON.stringify(index));
    await createTar({ file, cwd: layout, portable: true }, ['oci-layout', 'index.json', 'blobs']);
  } finally {
    await rm(layout, { recursive: true, force: true });
  }
};

/**
 * Imports a built image into containerd's k8s.io namespace (where the CRI looks) under `name`, unpacked, and
 * names it `repo@digest` too, so the CRI lists a repo digest for it as for a pulled image.
 */
export const importBuiltImage = async (
  target: ImportTarget,
  image: BuiltImage,
  name: string,
): Promise<void> => {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-import-'));
  try {
    const file = join(dir, 'image.tar');
    await writeOciArchive(image, name, file);
    const ctr = ['--address', target.address, '-n', 'k8s.io'];
    await run('ctr', [...ctr, 'images', 'import', '--snapshotter', target.snapshotter, file], {
      timeout: 120_000,
    });
    const repository = name.slice(0, name.lastIndexOf(':'));
    await run('ctr', [...ctr, 'images', 'tag', '--force', name, `${repository}@${image.digest}`]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

/** Builds the pause image and imports it as PAUSE_IMAGE; returns it (digest = manifest digest). */
export const importPauseImage = async (
  target: ImportTarget,
  options: BuildOptions = {},
): Promise<BuiltImage> => {
  const image = await buildPauseImage(options);
  await importBuiltImage(target, image, PAUSE_IMAGE);
  return image;
};
