// `helm version` costs a helm start (a tenth of a second) on every run, for one line the run only reports. Its
// answer is kept per binary: the file's path, inode, size and modification time. A helm replaced or upgraded in
// place is another file by those, and is asked again.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { airlockCacheDir } from '../cache.ts';
import { findProgram } from '../exec/which.ts';

const CACHE_FILE = 'helm-versions.json';

interface CachedVersion {
  ino: number;
  size: number;
  mtimeMs: number;
  version: string;
}

type VersionCache = Record<string, CachedVersion>;

const readCache = async (file: string): Promise<VersionCache> => {
  try {
    const cache: unknown = JSON.parse(await readFile(file, 'utf8'));
    return typeof cache === 'object' && cache !== null ? (cache as VersionCache) : {};
  } catch {
    return {};
  }
};

/** Renamed into place, so a concurrent run reads the old cache or the new one, never half of one. */
const writeCache = async (file: string, cache: VersionCache): Promise<void> => {
  const temporary = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await mkdir(dirname(file), { recursive: true });
  await writeFile(temporary, JSON.stringify(cache));
  await rename(temporary, file);
};

/**
 * `ask(helm)` once per helm binary; later runs read its answer back. Anything wrong with the cache (absent,
 * unreadable, not writable) only means asking helm.
 */
export const cachedHelmVersion = async (
  helm: string,
  ask: (helm: string) => Promise<string>,
): Promise<string> => {
  const program = await findProgram(helm);
  const info = program ? await stat(program).catch(() => undefined) : undefined;
  if (!program || !info) return ask(helm);
  const file = join(airlockCacheDir(''), CACHE_FILE);
  const cache = await readCache(file);
  const known = cache[program];
  const same = known?.ino === info.ino && known.size === info.size && known.mtimeMs === info.mtimeMs;
  if (same && typeof known.version === 'string') return known.version;
  const version = await ask(program);
  const entry = { ino: info.ino, size: info.size, mtimeMs: info.mtimeMs, version };
  await writeCache(file, { ...cache, [program]: entry }).catch(() => undefined);
  return version;
};
