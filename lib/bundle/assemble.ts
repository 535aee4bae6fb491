// Assembles one platform's runtime in the cache from the locked sources: node from npm, ctr from Debian's
// containerd, and exactly the shared libraries (and loader) their ELF headers ask for, found in the locked
// Debian packages. The result is checked file by file against the lock.
import { createHash, randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { z } from 'zod';
import { AirlockError } from '../errors.ts';
import { sha256File } from '../files.ts';
import { debianMirror, extractDebianPackage } from './debian.ts';
import { downloadVerified } from './download.ts';
import { readElf } from './elf.ts';
import type { RuntimeLock, RuntimeSource } from './lock.ts';
import { ensureNpmSource, extractNodePackage } from './npm.ts';
import type { RuntimePlatform } from './platforms.ts';

/** Parts of a Debian package the runtime can use: libraries and the loader, and containerd's ctr. */
const DEBIAN_PREFIXES = ['lib/', 'lib64/', 'usr/lib/', 'usr/bin/ctr'];

export interface RuntimeFile {
  /** Relative to the runtime directory: `lib/libc.so.6`, `bin/node`. */
  path: string;
  /** The assembled file in the cache. */
  source: string;
  size: number;
  sha256: string;
  mode: number;
}

export interface AssembledRuntime {
  platform: RuntimePlatform;
  files: RuntimeFile[];
}

const Recorded = z.array(
  z.object({
    path: z.string(),
    size: z.number(),
    sha256: z.string(),
    mode: z.number(),
    mtimeMs: z.number(),
  }),
);

export class RuntimeAssemblyError extends AirlockError {
  readonly platform: string;
  readonly file: string;
  constructor(platform: string, file: string, message: string) {
    super('BAD_INPUT', `importer runtime ${platform}: ${file}: ${message}`);
    this.platform = platform;
    this.file = file;
  }
}

const sourceKey = (source: RuntimeSource) => `${source.name}_${source.version}`;

const fetchSource = async (source: RuntimeSource, cacheDir: string, mirror: string): Promise<string> => {
  if (source.kind === 'npm') return ensureNpmSource(source, join(cacheDir, 'sources/npm'));
  const file = join(cacheDir, 'sources/deb', basename(source.filename));
  return downloadVerified(`${mirror}/${source.filename}`, file, source);
};

/** Unpacks a source once into extract/<platform>/<name_version>; a marker says the unpacking finished. */
const extractSource = async (
  source: RuntimeSource,
  file: string,
  platform: RuntimePlatform,
  cacheDir: string,
): Promise<string> => {
  const root = join(cacheDir, 'extract', platform.name, `${sourceKey(source)}-${source.sha256.slice(0, 12)}`);
  const marker = join(root, '.complete');
  if (await stat(marker).catch(() => undefined)) return root;
  // Unpacked under a name of its own and renamed: a parallel process never sees, or writes into, half of it.
  const partial = `${root}.${randomBytes(4).toString('hex')}.partial`;
  try {
    await mkdir(partial, { recursive: true });
    const links = source.kind === 'npm' ? {} : await extractDebianPackage(file, partial, DEBIAN_PREFIXES);
    if (source.kind === 'npm') await extractNodePackage(file, partial);
    await writeFile(join(partial, LINKS_FILE), JSON.stringify(links));
    await writeFile(join(partial, '.complete'), '');
    await rm(root, { recursive: true, force: true });
    await rename(partial, root).catch(async (error: NodeJS.ErrnoException) => {
      if (!(await stat(marker).catch(() => undefined))) throw error;
    });
    return root;
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
};

const LINKS_FILE = '.links.json';
const Links = z.record(z.string(), z.string());

interface ExtractedRoot {
  dir: string;
  links: Record<string, string>;
}

const openRoot = async (dir: string): Promise<ExtractedRoot> => ({
  dir,
  links: Links.parse(JSON.parse(await readFile(join(dir, LINKS_FILE), 'utf8'))),
});

/** Follows symlinks (absolute ones from the package root) across the extracted packages; a regular file or nothing. */
const resolveInRoots = async (
  roots: readonly ExtractedRoot[],
  relative: string,
): Promise<string | undefined> => {
  let current = posix.normalize(relative);
  for (let hops = 0; hops < 16; hops++) {
    if (current.startsWith('..')) return undefined;
    let link: string | undefined;
    for (const root of roots) {
      const target = root.links[current];
      if (target !== undefined) {
        link = target.startsWith('/') ? target.slice(1) : posix.join(posix.dirname(current), target);
        break;
      }
      const full = join(root.dir, current);
      if ((await stat(full).catch(() => undefined))?.isFile()) return full;
    }
    if (link === undefined) return undefined;
    current = posix.normalize(link);
  }
  return undefined;
};

const libraryDirs = (platform: RuntimePlatform) => [
  `lib/${platform.triplet}`,
  `usr/lib/${platform.triplet}`,
  'lib64',
  'lib',
  'usr/lib',
];

/** node, ctr, and the transitive DT_NEEDED closure of both; the loader is the one their PT_INTERP names. */
const collectFiles = async (
  platform: RuntimePlatform,
  roots: readonly ExtractedRoot[],
): Promise<Array<{ path: string; from: string }>> => {
  const programs = [
    { path: 'bin/node', relative: 'bin/node' },
    { path: 'bin/ctr', relative: 'usr/bin/ctr' },
  ];
  const files: Array<{ path: string; from: string }> = [];
  const queue: string[] = [];
  for (const program of programs) {
    const from = await resolveInRoots(roots, program.relative);
    if (!from)
      throw new RuntimeAssemblyError(platform.name, program.relative, 'in none of the locked packages');
    files.push({ path: program.path, from });
    queue.push(from);
  }
  const libraries = new Map<string, string>();
  while (queue.length > 0) {
    const file = queue.shift() as string;
    const elf = await readElf(file);
    if (elf.machine !== platform.machine) {
      throw new RuntimeAssemblyError(
        platform.name,
        file,
        `ELF machine ${elf.machine}, expected ${platform.machine}`,
      );
    }
    const interpreter = elf.interpreter ? [basename(elf.interpreter)] : [];
    if (interpreter[0] && interpreter[0] !== platform.loader) {
      throw new RuntimeAssemblyError(
        platform.name,
        file,
        `interpreter ${elf.interpreter}, expected ${platform.loader}`,
      );
    }
    for (const soname of [...interpreter, ...elf.needed]) {
      if (libraries.has(soname)) continue;
      let found: string | undefined;
      for (const dir of libraryDirs(platform)) {
        found = await resolveInRoots(roots, `${dir}/${soname}`);
        if (found) break;
      }
      if (!found) {
        throw new RuntimeAssemblyError(
          platform.name,
          soname,
          `needed by ${basename(file)}, in none of the locked packages`,
        );
      }
      libraries.set(soname, found);
      queue.push(found);
    }
  }
  for (const [soname, from] of [...libraries].sort(([a], [b]) => (a < b ? -1 : 1)))
    files.push({ path: `lib/${soname}`, from });
  return files;
};

const modeOf = (platform: RuntimePlatform, path: string) =>
  path.startsWith('bin/') || path === `lib/${platform.loader}` ? 0o755 : 0o644;

/** The cache entry is intact when every file still has the size and mtime recorded when it was made. */
const readAssembled = async (dir: string): Promise<RuntimeFile[] | undefined> => {
  const text = await readFile(join(dir, 'files.json'), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const recorded = Recorded.safeParse(JSON.parse(text));
  if (!recorded.success) return undefined;
  const files: RuntimeFile[] = [];
  for (const entry of recorded.data) {
    const source = join(dir, entry.path);
    const info = await stat(source).catch(() => undefined);
    // A hard link in an images directory that someone edited in place changes the cache's copy too.
    if (!info || info.size !== entry.size || info.mtimeMs !== entry.mtimeMs) return undefined;
    files.push({ path: entry.path, source, size: entry.size, sha256: entry.sha256, mode: entry.mode });
  }
  return files;
};

export interface AssembleOptions {
  cacheDir: string;
  /** Check the files against the lock's sha256 list (off only while writing a new lock). */
  checkLockedFiles?: boolean;
  mirror?: string;
}

/** The platform's runtime in `<cache>/assembled/<platform>-<sources hash>/`, built on first use. */
export const assembleRuntime = async (
  lock: RuntimeLock,
  platform: RuntimePlatform,
  options: AssembleOptions,
): Promise<AssembledRuntime> => {
  const locked = lock.platforms[platform.name];
  if (!locked) throw new RuntimeAssemblyError(platform.name, 'runtime.lock.json', 'platform not in the lock');
  const key = createHash('sha256').update(JSON.stringify(locked.sources)).digest('hex').slice(0, 16);
  const dir = join(options.cacheDir, 'assembled', `${platform.name}-${key}`);
  let files = await readAssembled(dir);
  if (!files) {
    const mirror = options.mirror ?? (await debianMirror());
    const roots: ExtractedRoot[] = [];
    for (const source of locked.sources) {
      const file = await fetchSource(source, options.cacheDir, mirror);
      roots.push(await openRoot(await extractSource(source, file, platform, options.cacheDir)));
    }
    files = await writeAssembled(platform, await collectFiles(platform, roots), dir);
  }
  if (options.checkLockedFiles ?? true) checkAgainstLock(platform, files, locked.files);
  return { platform, files };
};

const writeAssembled = async (
  platform: RuntimePlatform,
  collected: Array<{ path: string; from: string }>,
  dir: string,
): Promise<RuntimeFile[]> => {
  const partial = `${dir}.${randomBytes(4).toString('hex')}.partial`;
  await mkdir(partial, { recursive: true });
  try {
    const recorded: z.infer<typeof Recorded> = [];
    for (const { path, from } of collected) {
      const target = join(partial, path);
      await mkdir(dirname(target), { recursive: true });
      await copyFile(from, target);
      const mode = modeOf(platform, path);
      await chmod(target, mode);
      const info = await stat(target);
      recorded.push({ path, size: info.size, sha256: await sha256File(target), mode, mtimeMs: info.mtimeMs });
    }
    await writeFile(join(partial, 'files.json'), `${JSON.stringify(recorded, null, 2)}\n`);
    // An entry found stale is moved aside before it is removed; if another process (a parallel test worker)
    // put a fresh one in place meanwhile, that one is used and ours dropped.
    const stale = `${dir}.${randomBytes(4).toString('hex')}.stale`;
    await rename(dir, stale).catch(() => undefined);
    await rm(stale, { recursive: true, force: true });
    try {
      await rename(partial, dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const theirs = code === 'ENOTEMPTY' || code === 'EEXIST' ? await readAssembled(dir) : undefined;
      if (!theirs) throw error;
      return theirs;
    }
    return recorded.map(({ path, size, sha256, mode }) => ({
      path,
      source: join(dir, path),
      size,
      sha256,
      mode,
    }));
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
};

const checkAgainstLock = (
  platform: RuntimePlatform,
  files: readonly RuntimeFile[],
  locked: Readonly<Record<string, string>>,
): void => {
  const made = new Map(files.map((file) => [file.path, file.sha256]));
  for (const [path, sha256] of Object.entries(locked)) {
    const actual = made.get(path);
    if (actual === undefined)
      throw new RuntimeAssemblyError(platform.name, path, 'in the lock, not assembled');
    if (actual !== sha256) {
      throw new RuntimeAssemblyError(platform.name, path, `sha256 ${actual}, the lock says ${sha256}`);
    }
  }
  for (const path of made.keys()) {
    if (!(path in locked)) throw new RuntimeAssemblyError(platform.name, path, 'assembled, not in the lock');
  }
};
