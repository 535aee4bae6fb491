export {
  checkImporterPlatforms,
  exportImporterRuntime,
  IMPORTER_MODES,
  type ImporterMode,
  rendersImportHook,
  resolveImporterMode,
} from './export.ts';
export { loaderCommand, RUNTIME_PLATFORMS, type RuntimePlatform, runtimePlatformOf } from './platforms.ts';
export { type ImporterFileEntry, type ImporterManifest, importerFiles } from './write.ts';
