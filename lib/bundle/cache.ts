// Where the runtime's sources and assembled files are kept between runs.
import { airlockCacheDir } from '../cache.ts';

/** Environment variables the exporter reads for the runtime (documented in OFFLINE-IMAGES.md). */
export const RUNTIME_ENVIRONMENT = ['AIRLOCK_CACHE_DIR', 'AIRLOCK_DEBIAN_MIRROR'] as const;

/** The runtime's cache: see airlockCacheDir. */
export const runtimeCacheDir = (): string => airlockCacheDir('runtime');
