// The exporter's `--importer` option: which importer goes next to the archives.
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { buildImporterBundle, buildImporterEntry } from '../../importer/build.ts';
import { IMPORT_HOOK_LABEL } from '../discover/rendered.ts';
import type { ImagesJsonEntry } from '../export/outputs.ts';
import { archiveFileName } from '../export/plan.ts';
import type { Platform } from '../oci/index.ts';
import { parseReference } from '../reference/index.ts';
import { assembleRuntime } from './assemble.ts';
import { runtimeCacheDir } from './cache.ts';
import { importerImageName, writeImporterImage } from './image.ts';
import { readRuntimeLock } from './lock.ts';
import type { ImporterMode } from './modes.ts';
import { IMPORTER_MAIN_FILE, type RuntimePlatform, runtimePlatformOf } from './platforms.ts';
import { type ImporterScripts, type WrittenRuntime, writeImporterRuntime } from './write.ts';

export { IMPORTER_MODES, type ImporterMode } from './modes.ts';

/** True when a rendered object carries the import hook's component label. */
export const rendersImportHook = (manifests: string | undefined): boolean => {
  if (!manifests) return false;
  for (const document of parseAllDocuments(manifests)) {
    const labels = (document.toJS() as { metadata?: { labels?: Record<string, unknown> } } | null)?.metadata
      ?.labels;
    if (labels?.[IMPORT_HOOK_LABEL.key] === IMPORT_HOOK_LABEL.value) return true;
  }
  return false;
};

/** `auto` is `bundle` when the rendered chart holds the import hook, else `none`. */
export const resolveImporterMode = (
  mode: ImporterMode,
  manifests: string | undefined,
): Exclude<ImporterMode, 'auto'> =>
  mode === 'auto' ? (rendersImportHook(manifests) ? 'bundle' : 'none') : mode;

/** Fails before any download when a platform has no runtime: one line naming the supported ones. */
export const checkImporterPlatforms = (platforms: readonly Platform[]): void => {
  for (const platform of platforms) runtimePlatformOf(platform);
};

/** The bundled importer and its entry file, built into the cache (esbuild is deterministic: same tree, same bytes). */
export const buildImporterScript = async (
  cacheDir: string = runtimeCacheDir(),
): Promise<ImporterScripts> => ({
  entry: await buildImporterEntry(join(cacheDir, 'importer', 'importer.mjs')),
  main: await buildImporterBundle(join(cacheDir, 'importer', IMPORTER_MAIN_FILE)),
});

export interface ExportImporterOptions {
  output: string;
  platforms: readonly Platform[];
  version: string;
}

const runtimePlatforms = (platforms: readonly Platform[]): RuntimePlatform[] => [
  ...new Map(
    platforms.map((platform) => {
      const runtime = runtimePlatformOf(platform);
      return [runtime.name, runtime];
    }),
  ).values(),
];

/** `--importer bundle`: the runtime of every platform into `<output>/importer/`. */
export const exportImporterRuntime = async (options: ExportImporterOptions): Promise<WrittenRuntime> => {
  const platforms = runtimePlatforms(options.platforms);
  return writeImporterRuntime({
    output: options.output,
    platforms,
    version: options.version,
    importer: await buildImporterScript(),
  });
};

/** The importer image's images.json entry, as the exporter writes one for every archive. */
export type ImporterImageEntry = ImagesJsonEntry;

/** `--importer image`: `airlock/importer:<version>` as an archive beside the others, from the same runtime files. */
export const exportImporterImage = async (
  options: ExportImporterOptions & { compression: 'none' | 'gzip' },
): Promise<ImporterImageEntry> => {
  const cacheDir = runtimeCacheDir();
  const lock = await readRuntimeLock();
  const runtimes = [];
  for (const platform of runtimePlatforms(options.platforms))
    runtimes.push(await assembleRuntime(lock, platform, { cacheDir }));
  const name = importerImageName(options.version);
  const file = archiveFileName(parseReference(name), options.compression);
  const written = await writeImporterImage({
    path: join(options.output, file),
    runtimes,
    importerBundle: (await buildImporterScript(cacheDir)).main,
    version: options.version,
    layerDir: join(cacheDir, 'image-layers'),
    compression: options.compression,
  });
  return {
    reference: name,
    references: [name],
    names: written.image.names,
    digest: written.image.target.descriptor.digest,
    mediaType: written.image.target.descriptor.mediaType,
    platforms: runtimes.map((runtime) => runtime.platform.oci),
    file,
    size: written.size,
    sha256: written.sha256,
    sources: [{ kind: 'importer', file: 'lib/bundle/runtime.lock.json', location: '--importer image' }],
  };
};
