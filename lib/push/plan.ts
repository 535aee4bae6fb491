import { normalizeEntryPath } from '../archive/entries.ts';
import { ArchiveCorruptError } from '../archive/errors.ts';
import { configDigestOfPath, parseDocument } from '../archive/summary.ts';
import {
  type Descriptor,
  DockerArchiveManifest,
  digestOf,
  ImageIndex,
  ImageManifest,
  isIndexMediaType,
  MediaType,
} from '../oci/index.ts';
import type { IndexedArchive } from './archive.ts';

/** A manifest to PUT, byte for byte, with the blobs it needs in the registry first. */
export interface PushManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  /** Config and layers, without non-distributable layers (those with urls). */
  blobs: Descriptor[];
}

/** One image of an archive: its names and everything a push of it writes, children first. */
export interface PushImage {
  names: string[];
  /** The manifest or index the names point at. */
  top: { digest: string; mediaType: string; bytes: Buffer };
  /** Platform manifests (for an index) or the manifest itself; each PUT before the top. */
  manifests: PushManifest[];
  /** True when the manifest was built from a `docker save` manifest.json: its digest is new by nature. */
  built: boolean;
  /** Children an index lists that the archive does not hold (exported for fewer platforms). */
  missingChildren: number;
}

const mediaTypeOf = (json: { mediaType?: string; manifests?: unknown }): string =>
  json.mediaType ?? (Array.isArray(json.manifests) ? MediaType.ociIndex : MediaType.ociManifest);

const manifestOf = (archive: IndexedArchive, digest: string, mediaType?: string): PushManifest => {
  const bytes = archive.document(digest, 'manifest');
  const parsed = parseDocument(archive.summary.path, `manifest ${digest}`, bytes, ImageManifest);
  return {
    digest,
    mediaType: mediaType ?? mediaTypeOf(parsed),
    bytes,
    blobs: [parsed.config, ...parsed.layers.filter((layer) => !layer.urls?.length)],
  };
};

/** The image as the archive stores it: the registry's bytes, children that are present, unchanged. */
const ociImage = (archive: IndexedArchive, names: string[], digest: string): PushImage => {
  const bytes = archive.document(digest, 'manifest or index');
  const json = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: unknown };
  const mediaType = mediaTypeOf(json);
  if (!isIndexMediaType(mediaType)) {
    const manifest = manifestOf(archive, digest, mediaType);
    return {
      names,
      top: { digest, mediaType, bytes },
      manifests: [manifest],
      built: false,
      missingChildren: 0,
    };
  }
  const index = parseDocument(archive.summary.path, `index ${digest}`, bytes, ImageIndex);
  const present = index.manifests.filter((child) => archive.stored.has(child.digest));
  return {
    names,
    top: { digest, mediaType, bytes },
    manifests: present.map((child) => manifestOf(archive, child.digest, child.mediaType)),
    built: false,
    missingChildren: index.manifests.length - present.length,
  };
};

/**
 * `docker save` keeps no manifest: build the Docker v2 schema 2 manifest from manifest.json, the config and the
 * layers as stored (uncompressed, under the gzip media type as skopeo does; containerd and Docker detect the
 * compression). Compact JSON with a fixed key order, so the same archive always gives the same digest.
 */
export const buildDockerManifest = (
  archive: IndexedArchive,
  entry: DockerArchiveManifest[number],
): PushManifest => {
  const fileOf = (path: string, role: string) => {
    const file = archive.files.get(normalizeEntryPath(path));
    if (!file)
      throw new ArchiveCorruptError(
        `${archive.summary.path}: manifest.json names the ${role} ${path}, which is not in the archive`,
      );
    return file;
  };
  const config = fileOf(entry.Config, 'config');
  const configDigest = configDigestOfPath(normalizeEntryPath(entry.Config)) ?? config.digest;
  const configBytes = archive.document(configDigest, 'config');
  const layers = entry.Layers.map((layer) => fileOf(layer, 'layer'));
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.dockerManifest,
    config: { mediaType: MediaType.dockerConfig, size: configBytes.length, digest: configDigest },
    layers: layers.map((layer) => ({
      mediaType: MediaType.dockerLayerGzip,
      size: layer.size,
      digest: layer.digest,
    })),
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return {
    digest: digestOf(bytes),
    mediaType: MediaType.dockerManifest,
    bytes,
    blobs: [manifest.config, ...manifest.layers],
  };
};

/** Every image of an indexed archive, as pushes see them. */
export const planArchive = (archive: IndexedArchive): PushImage[] => {
  const entries = archive.dockerManifest
    ? parseDocument(archive.summary.path, 'manifest.json', archive.dockerManifest, DockerArchiveManifest)
    : [];
  return archive.summary.images.map((image) => {
    if (image.digest) return ociImage(archive, image.names, image.digest);
    const entry =
      entries.find(
        (candidate) => configDigestOfPath(normalizeEntryPath(candidate.Config)) === image.configDigest,
      ) ?? entries[0];
    if (!entry)
      throw new ArchiveCorruptError(
        `${archive.summary.path}: manifest.json has no entry for ${image.names.join(', ')}`,
      );
    const manifest = buildDockerManifest(archive, entry);
    return {
      names: image.names,
      top: { digest: manifest.digest, mediaType: manifest.mediaType, bytes: manifest.bytes },
      manifests: [manifest],
      built: true,
      missingChildren: 0,
    };
  });
};
