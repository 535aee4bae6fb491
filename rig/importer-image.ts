// Builds the importer image inside the rig. No base image can be pulled here, so the base is made from
// Debian packages with debootstrap (cached as a rootfs tarball) and imported into the rig's dockerd.
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { buildImporterBundle } from '../importer/build.ts';
import { debianMirror } from '../lib/bundle/debian.ts';
import { run, toCommandError } from '../lib/exec/run.ts';
import { normalizeReference } from '../lib/reference/index.ts';
import { buildImporterImage, defaultImporterTag, REPOSITORY_ROOT } from '../scripts/build-importer-image.ts';
import { imageStatus } from './cri.ts';
import type { RigInfo } from './types.ts';

export const IMPORTER_BASE_IMAGE = 'airlock/importer-base:bookworm';

const CACHE_DIR = resolve(REPOSITORY_ROOT, 'node_modules/.cache/airlock');
const BASE_TARBALL = join(CACHE_DIR, 'importer-base', `bookworm-nodejs-${process.arch}.tar`);
const LOCK_DIR = join(CACHE_DIR, 'importer-image.lock');
// `docker import` leaves the config empty; containerd and Docker then differ in what PATH a process gets.
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
// The host's identity and the documentation do not belong in an image.
const TRIMMED_PATHS = [
  'etc/hostname',
  'etc/resolv.conf',
  'usr/share/doc',
  'usr/share/man',
  'usr/share/locale',
];

export interface ImporterImage {
  /** The chart's default importer image, e.g. `airlock/importer:0.1.0`. */
  reference: string;
  /** Docker's image ID (`sha256:...` of the config). */
  id: string;
}

const dockerEnv = (rig: Pick<RigInfo, 'docker'>) => ({ DOCKER_HOST: rig.docker.host });

/** Kept for callers of the rig: the mirror lookup lives with the runtime's Debian sources now. */
export { debianMirror };

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

/**
 * A Debian 12 minbase root filesystem with Debian's nodejs, as a tarball cached under node_modules/.cache.
 * debootstrap resolves nodejs's dependencies itself, so no chroot or apt-get run is needed.
 */
export const ensureBaseRootfsTarball = async (): Promise<string> => {
  if (await exists(BASE_TARBALL)) return BASE_TARBALL;
  const cacheDir = resolve(BASE_TARBALL, '..');
  await mkdir(cacheDir, { recursive: true });
  const workDir = await mkdtemp(join(cacheDir, 'build-'));
  try {
    const rootfs = join(workDir, 'rootfs');
    const mirror = await debianMirror();
    await run('debootstrap', ['--variant=minbase', '--include=nodejs', 'bookworm', rootfs, mirror], {
      timeout: 15 * 60_000,
    });
    for (const path of TRIMMED_PATHS) await rm(join(rootfs, path), { recursive: true, force: true });
    for (const dir of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
      for (const entry of await readdir(join(rootfs, dir))) {
        if (entry === 'partial' || entry === 'lock') continue;
        await rm(join(rootfs, dir, entry), { force: true, recursive: true });
      }
    }
    const partial = join(workDir, 'rootfs.tar');
    await run('tar', ['--numeric-owner', '-C', rootfs, '-cf', partial, '.']);
    await rename(partial, BASE_TARBALL);
    return BASE_TARBALL;
  } finally {
    await unmountUnder(workDir);
    await rm(workDir, { recursive: true, force: true });
  }
};

// debootstrap mounts /proc and /sys into the target; if it dies midway they stay mounted, and removing
// the directory would then walk into the host's /proc and /sys.
const unmountUnder = async (dir: string): Promise<void> => {
  const mountInfo = await readFile('/proc/self/mountinfo', 'utf8');
  const mountPoints = mountInfo
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((mountPoint) => mountPoint.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const mountPoint of mountPoints) await run('umount', ['-l', mountPoint]).catch(() => undefined);
};

const imageId = async (rig: Pick<RigInfo, 'docker'>, reference: string): Promise<string | undefined> => {
  try {
    const { stdout } = await run('docker', ['image', 'inspect', '--format', '{{.Id}}', reference], {
      env: dockerEnv(rig),
    });
    return stdout.trim();
  } catch {
    return undefined;
  }
};

/** `airlock/importer-base:bookworm` in the rig's dockerd: the cached rootfs, imported as a one-layer image. */
export const ensureImporterBaseImage = async (rig: Pick<RigInfo, 'docker'>): Promise<string> => {
  if (await imageId(rig, IMPORTER_BASE_IMAGE)) return IMPORTER_BASE_IMAGE;
  const tarball = await ensureBaseRootfsTarball();
  await run('docker', ['import', '--change', `ENV ${DEFAULT_PATH}`, tarball, IMPORTER_BASE_IMAGE], {
    env: dockerEnv(rig),
    timeout: 5 * 60_000,
  });
  return IMPORTER_BASE_IMAGE;
};

const lockHolderIsGone = async (): Promise<boolean> => {
  const pid = Number(await readFile(join(LOCK_DIR, 'pid'), 'utf8').catch(() => ''));
  if (!pid) {
    // Between mkdir and writing the pid file; only a crash leaves it like this for long.
    const since = await stat(LOCK_DIR).then(
      (info) => Date.now() - info.mtimeMs,
      () => 0,
    );
    return since > 30_000;
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
};

// Test workers are separate processes that may ask for the image at the same moment: one builds, the others wait.
const withBuildLock = async <T>(work: () => Promise<T>): Promise<T> => {
  await mkdir(CACHE_DIR, { recursive: true });
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    try {
      await mkdir(LOCK_DIR);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (await lockHolderIsGone()) {
        await rm(LOCK_DIR, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`${LOCK_DIR}: still held after 20 minutes; remove it if stale`);
      }
      await sleep(500);
    }
  }
  try {
    await writeFile(join(LOCK_DIR, 'pid'), String(process.pid));
    return await work();
  } finally {
    await rm(LOCK_DIR, { recursive: true, force: true });
  }
};

const builds = new Map<string, Promise<ImporterImage>>();

/**
 * Builds importer/dist/importer.mjs and the chart's default importer image in the rig's dockerd, once per
 * process and daemon. The first run on a machine spends ~30 s on debootstrap; later runs reuse the tarball.
 */
export const ensureImporterImage = (rig: Pick<RigInfo, 'docker'>): Promise<ImporterImage> => {
  const existing = builds.get(rig.docker.host);
  if (existing) return existing;
  const building = withBuildLock(async () => {
    await buildImporterBundle();
    const base = await ensureImporterBaseImage(rig);
    const reference = await buildImporterImage({
      dockerHost: rig.docker.host,
      base,
      tag: await defaultImporterTag(),
    });
    const id = await imageId(rig, reference);
    if (!id) throw new Error(`${reference}: built, yet missing in the dockerd at ${rig.docker.host}`);
    return { reference, id };
  });
  builds.set(rig.docker.host, building);
  building.catch(() => builds.delete(rig.docker.host));
  return building;
};

/**
 * Copies an image from the rig's dockerd into the rig's containerd (namespace k8s.io, where kubelet's
 * images live): `docker save` streamed into `ctr images import`.
 */
export const loadImageIntoContainerd = async (
  rig: Pick<RigInfo, 'docker' | 'containerd'>,
  reference: string,
): Promise<void> => {
  const ctrArgs = ['--address', rig.containerd.address, '-n', 'k8s.io', 'images', 'import', '-'];
  try {
    // execa's own pipe keeps the bytes binary and unbuffered; an image is hundreds of megabytes.
    await execa('docker', ['save', reference], { env: dockerEnv(rig), buffer: { stdout: false } }).pipe(
      'ctr',
      ctrArgs,
      { timeout: 5 * 60_000 },
    );
  } catch (error) {
    throw toCommandError(`docker save ${reference} | ctr ${ctrArgs.join(' ')}`, error);
  }
  // The CRI plugin picks the new name up from containerd's event stream; kubelet only sees it after that.
  const deadline = Date.now() + 15_000;
  while (!(await imageStatus(rig.containerd.address, normalizeReference(reference))).found) {
    if (Date.now() > deadline) {
      throw new Error(`${reference}: imported into containerd but the CRI does not list it`);
    }
    await sleep(100);
  }
};
