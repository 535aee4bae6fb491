import { readdir } from 'node:fs/promises';
import { CHECKSUMS_FILE, IMAGES_JSON } from '../archive/index.ts';
import { AirlockError } from '../errors.ts';

export const ARCHIVE_SUFFIXES = ['.tar', '.tar.gz', '.tgz'] as const;
/** Files the exporter writes next to the archives; they are read, not ignored. */
const METADATA_FILES = new Set([CHECKSUMS_FILE, IMAGES_JSON, 'README.md']);
/** The importer runtime the exporter bundles (importer/linux-<arch>/…): listed in SHA256SUMS, never imported. */
const RUNTIME_DIR = 'importer';

export interface ArchiveListing {
  archives: string[];
  ignored: string[];
}

/** Archives in a directory, sorted so every node imports in the same order; everything else is listed as ignored. */
export const listArchives = async (dir: string): Promise<ArchiveListing> => {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'ENOTDIR'
          ? 'is not a directory'
          : `cannot be read (${code})`;
    throw new AirlockError(
      'BAD_INPUT',
      `images directory ${dir} ${why} — copy the exported images/ directory to this path on the node (imagePull.imagesPath)`,
      { cause: error },
    );
  }
  const archives: string[] = [];
  const ignored: string[] = [];
  for (const entry of entries) {
    if (METADATA_FILES.has(entry.name) || entry.name.startsWith('.')) continue;
    if (entry.name === RUNTIME_DIR && entry.isDirectory()) continue;
    const isArchive = entry.isFile() && ARCHIVE_SUFFIXES.some((suffix) => entry.name.endsWith(suffix));
    (isArchive ? archives : ignored).push(entry.name);
  }
  return { archives: archives.sort(), ignored: ignored.sort() };
};
