import type { ArchiveEntryImage } from '../archive/index.ts';
import { normalizeReference } from '../reference/index.ts';
import type { RuntimeImage, RuntimeKind } from '../runtime/index.ts';

/** The runtime's images by normalized name, so `nginx:1.25` (Docker) and `docker.io/library/nginx:1.25` meet. */
export const indexRuntimeImages = (images: readonly RuntimeImage[]): Map<string, RuntimeImage> => {
  const byName = new Map<string, RuntimeImage>();
  for (const image of images) {
    // containerd's CRI names each image by its config digest too; as a reference that would read `sha256:<tag>`.
    if (/^sha256:[a-f0-9]{64}$/.test(image.name)) {
      byName.set(image.name, image);
      continue;
    }
    try {
      byName.set(normalizeReference(image.name), image);
    } catch {
      byName.set(image.name, image);
    }
  }
  return byName;
};

/** Names an import must create in this runtime: Docker cannot hold `repo@digest` names from a load. */
export const expectedNames = (image: ArchiveEntryImage, kind: RuntimeKind): string[] =>
  kind === 'docker' ? image.names.filter((name) => !name.includes('@')) : image.names;

/**
 * True when every name of every image in the archive is already there with the same content:
 * containerd by manifest digest (or, for Docker archives, through the CRI's config-digest name), Docker by
 * image ID (the config digest). A name pointing elsewhere means the tag moved since the last import, so the
 * archive is imported again.
 */
export const isPresent = (
  images: readonly ArchiveEntryImage[],
  present: ReadonlyMap<string, RuntimeImage>,
  kind: RuntimeKind,
): boolean =>
  images.length > 0 &&
  images.every((image) => {
    const names = expectedNames(image, kind);
    // Only repo@digest names, which Docker cannot hold: the image counts as present by its ID.
    if (names.length === 0) {
      return kind === 'docker' && image.configDigest !== undefined && present.has(image.configDigest);
    }
    return names.every((name) => {
      const found = present.get(name);
      if (!found) return false;
      if (kind === 'docker') return image.configDigest !== undefined && found.id === image.configDigest;
      if (image.digest !== undefined) return found.digest === image.digest;
      // A Docker archive has no manifest digest (ctr writes the manifest on import), but containerd's CRI
      // plugin also names every image by its config digest: the same target under both means the same image.
      const byConfig = image.configDigest === undefined ? undefined : present.get(image.configDigest);
      return byConfig !== undefined && found.digest === byConfig.digest;
    });
  });
