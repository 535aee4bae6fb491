import { posix } from 'node:path';
import { ArchiveCorruptError } from './errors.ts';
import type { TarEntry } from './tar-reader.ts';

// An image archive holds files and directories. Links are refused too: an exporter never writes one, and a
// chain such as `x/b -> ..` then `x/c/evil` reaches outside the archive however each link looks on its own.
const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);
const LINK_TYPES: Record<string, string> = { Link: 'hardlink', SymbolicLink: 'symlink' };

const hasParentComponent = (path: string): boolean => path.split('/').includes('..');

/** The entry's path as the layout code matches it: `./index.json` and `index.json` are the same file. */
export const normalizeEntryPath = (path: string): string => posix.normalize(path).replace(/\/$/, '');

/** Where a link entry points, as a path inside the archive: hard links name it, symlinks are relative to their directory. */
export const linkTargetOf = (entry: TarEntry): string =>
  normalizeEntryPath(
    entry.type === 'Link' ? entry.linkpath : posix.join(posix.dirname(entry.path), entry.linkpath),
  );

export interface EntryRules {
  /**
   * A link to a path this accepts is let through. The push reads links to regular files it has already seen
   * (skopeo's docker-archive names each layer twice, the second time as a symlink) and never extracts anything;
   * the importer accepts none, since the runtime that reads its stream would resolve them its own way.
   */
  linkTo?: (target: string) => boolean;
}

/**
 * Rejects entries that would reach outside the directory a runtime extracts the archive into
 * (Docker's load does extract it), or that are not plain content. Called before any body byte is used.
 */
export const checkEntry = (archive: string, entry: TarEntry, rules: EntryRules = {}): void => {
  const where = `${archive}: tar entry ${JSON.stringify(entry.path)}`;
  const refuse = (why: string): never => {
    throw new ArchiveCorruptError(
      `${where} ${why} — refusing the archive; export the image again with airlock`,
    );
  };
  if (entry.path === '' || entry.path.includes('\0')) refuse('has an empty or NUL-containing name');
  if (posix.isAbsolute(entry.path)) refuse('has an absolute path');
  if (hasParentComponent(entry.path)) refuse("has a '..' path component that climbs out of the archive");
  const link = LINK_TYPES[entry.type];
  if (link && rules.linkTo?.(linkTargetOf(entry))) return;
  if (link) refuse(`is a ${link} to ${JSON.stringify(entry.linkpath)}; image archives hold no links`);
  if (!ALLOWED_TYPES.has(entry.type)) {
    refuse(`is a ${entry.type} entry (device, FIFO or unknown type), which has no place in an image archive`);
  }
};
