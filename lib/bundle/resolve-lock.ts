// Writes a new runtime lock: the current versions of the Debian packages in the suite's signed index and the
// given Node.js version from npm, then assembles each platform once to record the sha256 of every file.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { AirlockError } from '../errors.ts';
import { assembleRuntime } from './assemble.ts';
import { debianMirror, findPackages, readRelease } from './debian.ts';
import { downloadVerified } from './download.ts';
import type { DebianSource, RuntimeLock } from './lock.ts';
import { packNpmPackage } from './npm.ts';
import { RUNTIME_PLATFORMS } from './platforms.ts';

/** ctr comes from containerd; the rest is what node and ctr link against (the assembly finds the exact files). */
export const DEBIAN_PACKAGES = ['libc6', 'libgcc-s1', 'libstdc++6', 'containerd'] as const;
export const DEFAULT_NODE_VERSION = '20.20.2';
export const DEBIAN_SUITE = 'bookworm';

export interface ResolveLockOptions {
  cacheDir: string;
  nodeVersion?: string;
  onWarning?: (line: string) => void;
}

export const resolveRuntimeLock = async (options: ResolveLockOptions): Promise<RuntimeLock> => {
  const mirror = await debianMirror();
  const release = await readRelease(mirror, DEBIAN_SUITE, options.onWarning ?? (() => undefined));
  const nodeVersion = options.nodeVersion ?? DEFAULT_NODE_VERSION;
  const lock: RuntimeLock = {
    lockVersion: 1,
    node: { version: nodeVersion },
    debian: {
      suite: DEBIAN_SUITE,
      date: release.date,
      inReleaseSha256: createHash('sha256').update(release.bytes).digest('hex'),
    },
    platforms: {},
  };
  for (const platform of RUNTIME_PLATFORMS) {
    const indexPath = `main/binary-${platform.debianArchitecture}/Packages.xz`;
    const index = release.indexes.get(indexPath);
    if (!index)
      throw new AirlockError('NOT_FOUND', `${mirror} ${DEBIAN_SUITE}: InRelease lists no ${indexPath}`);
    const indexFile = await downloadVerified(
      `${mirror}/dists/${DEBIAN_SUITE}/${indexPath}`,
      join(options.cacheDir, 'sources/index', `${index.sha256}.xz`),
      index,
    );
    const found = await findPackages(indexFile, DEBIAN_PACKAGES);
    const debs: DebianSource[] = [];
    for (const name of DEBIAN_PACKAGES) {
      const entry = found.get(name);
      if (!entry) throw new AirlockError('NOT_FOUND', `${indexPath}: no package ${name}`);
      debs.push({ kind: 'deb', ...entry });
    }
    const node = await packNpmPackage(
      platform.nodePackage,
      nodeVersion,
      join(options.cacheDir, 'sources/npm'),
    );
    lock.platforms[platform.name] = {
      sources: [
        {
          kind: 'npm',
          name: platform.nodePackage,
          version: nodeVersion,
          integrity: node.integrity,
          sha256: node.sha256,
        },
        ...debs,
      ],
      files: {},
    };
    const assembled = await assembleRuntime(lock, platform, {
      cacheDir: options.cacheDir,
      checkLockedFiles: false,
      mirror,
    });
    const platformLock = lock.platforms[platform.name];
    if (platformLock)
      platformLock.files = Object.fromEntries(assembled.files.map((file) => [file.path, file.sha256]));
  }
  return lock;
};
