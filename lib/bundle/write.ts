// Writes the importer runtime into an images directory: importer/linux-<arch>/{lib,bin,importer.mjs} per
// platform, the importer/run wrapper, and for each supported platform left out only lib/<loader>, a program that
// names the platforms exported (absent.ts), each file through a temporary name and a rename, linked from the cache
// when the file system allows (the cache checks its files on every use, see assemble.ts).
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, copyFile, link, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sha256File } from '../files.ts';
import { absentRuntimeProgram } from './absent.ts';
import { type AssembledRuntime, assembleRuntime } from './assemble.ts';
import { runtimeCacheDir } from './cache.ts';
import { readRuntimeLock } from './lock.ts';
import {
  IMPORTER_MAIN_FILE,
  loaderCommand,
  RUNTIME_PLATFORMS,
  type RuntimePlatform,
  runtimeDirOf,
} from './platforms.ts';
import { RUN_WRAPPER } from './run-wrapper.ts';

export interface ImporterFileEntry {
  /** Relative to the images directory: `importer/linux-amd64/bin/node`. */
  file: string;
  size: number;
  sha256: string;
}

/** images.json's top-level `importer` key. */
export interface ImporterManifest {
  version: string;
  node: string;
  /** The POSIX sh wrapper that picks the platform by `uname -m` on a node without Kubernetes. */
  run: ImporterFileEntry;
  platforms: Record<
    string,
    {
      dir: string;
      /** The loader command, paths relative to the images directory (the hook mounts it at /images). */
      command: string[];
      files: ImporterFileEntry[];
    }
  >;
  /**
   * Per supported platform left out of the export: the program at its loader's place that tells a node of that
   * architecture which platforms the export holds (absent.ts).
   */
  absent?: Record<string, ImporterFileEntry>;
}

/** The importer's two files as an exported runtime holds them: the small entry file, and the bundle it runs. */
export interface ImporterScripts {
  entry: string;
  main: string;
}

export interface WriteRuntimeOptions {
  output: string;
  platforms: readonly RuntimePlatform[];
  version: string;
  /** The importer's entry file and bundle (importer/build.ts), placed in each platform directory. */
  importer: ImporterScripts;
  cacheDir?: string;
}

export interface WrittenRuntime {
  manifest: ImporterManifest;
  /** Every file written, for SHA256SUMS. */
  files: ImporterFileEntry[];
}

const sameFile = async (a: string, b: string): Promise<boolean> => {
  const [left, right] = await Promise.all([stat(a).catch(() => undefined), stat(b).catch(() => undefined)]);
  return Boolean(left && right && left.ino === right.ino && left.dev === right.dev);
};

/** Puts `source` at `target` in one rename: a hard link when possible, else a reflink or copy. */
const place = async (source: string, target: string, mode: number): Promise<void> => {
  if (await sameFile(source, target)) return;
  await mkdir(dirname(target), { recursive: true });
  const partial = `${target}.${randomBytes(4).toString('hex')}.partial`;
  try {
    try {
      await link(source, partial);
    } catch {
      await copyFile(source, partial, constants.COPYFILE_FICLONE);
      await chmod(partial, mode);
    }
    await rename(partial, target);
  } finally {
    await rm(partial, { force: true });
  }
};

/** Partial files under importer/ are only left by a killed run; files of platforms not exported go too. */
const clearImporterDir = async (output: string, keep: ReadonlySet<string>): Promise<void> => {
  const dir = join(output, 'importer');
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory() && !keep.has(entry.name)) {
      await rm(join(dir, entry.name), { recursive: true, force: true });
    }
  }
  for (const name of await readdir(dir, { recursive: true }).catch(() => [] as string[])) {
    if (String(name).endsWith('.partial')) await rm(join(dir, String(name)), { force: true });
  }
};

/** The entry file as importer.mjs (what the loader command names) and the bundle under the name it imports. */
const scriptEntries = async (importer: ImporterScripts) => {
  const scripts = [
    { source: importer.entry, name: 'importer.mjs' },
    { source: importer.main, name: IMPORTER_MAIN_FILE },
  ];
  return Promise.all(
    scripts.map(async (script) => ({
      ...script,
      size: (await stat(script.source)).size,
      sha256: await sha256File(script.source),
    })),
  );
};

export const writeImporterRuntime = async (options: WriteRuntimeOptions): Promise<WrittenRuntime> => {
  const lock = await readRuntimeLock();
  const cacheDir = options.cacheDir ?? runtimeCacheDir();
  const runtimes: AssembledRuntime[] = [];
  for (const platform of options.platforms)
    runtimes.push(await assembleRuntime(lock, platform, { cacheDir }));
  await clearImporterDir(options.output, new Set(options.platforms.map((platform) => platform.name)));

  const scripts = await scriptEntries(options.importer);
  const files: ImporterFileEntry[] = [];
  const manifest: ImporterManifest = {
    version: options.version,
    node: lock.node.version,
    run: { file: 'importer/run', size: 0, sha256: '' },
    platforms: {},
  };
  for (const { platform, files: runtimeFiles } of runtimes) {
    const dir = runtimeDirOf(platform);
    const entries: ImporterFileEntry[] = [];
    for (const file of runtimeFiles) {
      await place(file.source, join(options.output, dir, file.path), file.mode);
      entries.push({ file: `${dir}/${file.path}`, size: file.size, sha256: file.sha256 });
    }
    for (const script of scripts) {
      await place(script.source, join(options.output, dir, script.name), 0o644);
      entries.push({ file: `${dir}/${script.name}`, size: script.size, sha256: script.sha256 });
    }
    manifest.platforms[platform.name] = { dir, command: loaderCommand(platform, dir), files: entries };
    files.push(...entries);
  }
  manifest.run = await writeRunWrapper(options.output);
  files.push(manifest.run);
  const absent = await writeAbsentPrograms(options.output, options.platforms);
  if (Object.keys(absent).length > 0) manifest.absent = absent;
  files.push(...Object.values(absent));
  return { manifest, files };
};

const writeAbsentPrograms = async (
  output: string,
  exported: readonly RuntimePlatform[],
): Promise<Record<string, ImporterFileEntry>> => {
  const absent: Record<string, ImporterFileEntry> = {};
  for (const platform of RUNTIME_PLATFORMS) {
    if (exported.some((entry) => entry.name === platform.name)) continue;
    const file = `${runtimeDirOf(platform)}/lib/${platform.loader}`;
    const bytes = absentRuntimeProgram(platform, exported);
    const target = join(output, file);
    const partial = `${target}.${randomBytes(4).toString('hex')}.partial`;
    await mkdir(dirname(target), { recursive: true });
    await writeFile(partial, bytes, { mode: 0o755 });
    await chmod(partial, 0o755);
    await rename(partial, target);
    absent[platform.name] = {
      file,
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    };
  }
  return absent;
};

/** Every file of the runtime, for SHA256SUMS. */
export const importerFiles = (manifest: ImporterManifest): ImporterFileEntry[] => [
  ...Object.values(manifest.platforms).flatMap((platform) => platform.files),
  manifest.run,
  ...Object.values(manifest.absent ?? {}),
];

const writeRunWrapper = async (output: string): Promise<ImporterFileEntry> => {
  const target = join(output, 'importer/run');
  const partial = `${target}.${randomBytes(4).toString('hex')}.partial`;
  await mkdir(dirname(target), { recursive: true });
  await writeFile(partial, RUN_WRAPPER, { mode: 0o755 });
  await chmod(partial, 0o755);
  await rename(partial, target);
  return { file: 'importer/run', size: Buffer.byteLength(RUN_WRAPPER), sha256: await sha256File(target) };
};
