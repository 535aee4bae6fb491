// Where airlock keeps what it can build or ask again, between runs.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPOSITORY_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * `AIRLOCK_CACHE_DIR/name` when set; in a checkout, node_modules/.cache/airlock/name (next to the rig's Helm
 * downloads, and gone with `rm -rf node_modules`); elsewhere $XDG_CACHE_HOME/airlock/name.
 */
export const airlockCacheDir = (name: string): string => {
  const explicit = process.env.AIRLOCK_CACHE_DIR;
  if (explicit) return resolve(explicit, name);
  if (existsSync(join(REPOSITORY_ROOT, 'node_modules')))
    return join(REPOSITORY_ROOT, 'node_modules/.cache/airlock', name);
  const xdg = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(xdg, 'airlock', name);
};
