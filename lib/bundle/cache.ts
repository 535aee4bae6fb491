// Where the runtime's sources and assembled files are kept between runs.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Environment variables the exporter reads for the runtime (documented in OFFLINE-IMAGES.md). */
export const RUNTIME_ENVIRONMENT = ['AIRLOCK_CACHE_DIR', 'AIRLOCK_DEBIAN_MIRROR'] as const;

const REPOSITORY_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * `AIRLOCK_CACHE_DIR` when set; in a checkout, node_modules/.cache/airlock/runtime (next to the rig's Helm
 * downloads, and gone with `rm -rf node_modules`); elsewhere $XDG_CACHE_HOME/airlock/runtime.
 */
export const runtimeCacheDir = (): string => {
  const explicit = process.env.AIRLOCK_CACHE_DIR;
  if (explicit) return resolve(explicit, 'runtime');
  if (existsSync(join(REPOSITORY_ROOT, 'node_modules')))
    return join(REPOSITORY_ROOT, 'node_modules/.cache/airlock/runtime');
  const xdg = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(xdg, 'airlock/runtime');
};
