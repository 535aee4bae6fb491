import { AirlockError, DigestMismatchError } from '../errors.ts';
import { Annotation, type Descriptor, digestOf, MediaType } from '../oci/index.ts';
import { parseReference } from '../reference/index.ts';

/** A small JSON document (manifest, index, config) kept byte-for-byte as the registry served it. */
export interface ArchiveBlob {
  descriptor: Descriptor;
  bytes: Buffer;
}

/** One platform manifest with its config and the descriptors of its layers (streamed at write time). */
export interface ArchiveManifest {
  descriptor: Descriptor;
  bytes: Buffer;
  config: ArchiveBlob;
  layers: Descriptor[];
}

export interface ArchiveImage {
  /** `io.containerd.image.name` values: `docker.io/library/nginx:1.25`, `docker.io/library/nginx@sha256:...`. */
  names: string[];
  /** manifest.json RepoTags: tag names only, Docker rejects digests there. */
  dockerRepoTags: string[];
  /** The registry's manifest or index, unchanged. */
  target: ArchiveBlob;
  /** The selected platform manifests; the only one equals `target` when the target is a manifest. */
  manifests: ArchiveManifest[];
}

/** A blob in archive order: small ones carry their bytes, layers are streamed by the writer's caller. */
export type LayoutBlob =
  | { descriptor: Descriptor; bytes: Buffer }
  | { descriptor: Descriptor; bytes?: undefined };

export const OCI_LAYOUT_FILE = 'oci-layout';
export const INDEX_FILE = 'index.json';
export const DOCKER_MANIFEST_FILE = 'manifest.json';
/** Docker's legacy tag file, which `docker load` reads when manifest.json is absent. */
export const REPOSITORIES_FILE = 'repositories';
export const OCI_LAYOUT_BYTES = Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' }));

/** `sha256:abc...` -> `blobs/sha256/abc...`, the path both the OCI layout and manifest.json use. */
export const blobPath = (digest: string): string => {
  const [algorithm, encoded] = digest.split(':');
  return `blobs/${algorithm}/${encoded}`;
};

/** `blobs/sha256/abc...` -> `sha256:abc...`, or undefined for any other path. */
export const digestOfBlobPath = (path: string): string | undefined => {
  const match = /^(?:\.\/)?blobs\/([a-z0-9]+)\/([a-zA-Z0-9=_-]+)$/.exec(path);
  return match ? `${match[1]}:${match[2]}` : undefined;
};

/** The OCI ref.name for a runtime name: its tag, or its digest for a `repo@sha256:...` name. */
export const refNameOf = (name: string): string => {
  const reference = parseReference(name);
  return reference.digest ?? reference.tag ?? 'latest';
};

export const buildIndexJson = (image: ArchiveImage): Buffer => {
  const { mediaType, digest, size } = image.target.descriptor;
  const manifests = image.names.map((name) => ({
    mediaType,
    digest,
    size,
    annotations: { [Annotation.containerdImageName]: name, [Annotation.ociRefName]: refNameOf(name) },
  }));
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
};

export const buildDockerManifest = (image: ArchiveImage): Buffer => {
  const entries = image.manifests.map((manifest, position) => ({
    Config: blobPath(manifest.config.descriptor.digest),
    // Docker tags every entry's image with its RepoTags: only the first platform may carry them.
    RepoTags: position === 0 ? image.dockerRepoTags : [],
    Layers: manifest.layers.map((layer) => blobPath(layer.digest)),
  }));
  return Buffer.from(JSON.stringify(entries));
};

/** Blobs in contract order (index, manifests, configs, layers), each digest once. */
export const layoutBlobs = (image: ArchiveImage): LayoutBlob[] => {
  const ordered: LayoutBlob[] = [
    image.target,
    ...image.manifests.map(({ descriptor, bytes }) => ({ descriptor, bytes })),
    ...image.manifests.map((manifest) => manifest.config),
    ...image.manifests.flatMap((manifest) => manifest.layers.map((descriptor) => ({ descriptor }))),
  ];
  const seen = new Set<string>();
  return ordered.filter(({ descriptor }) => {
    if (seen.has(descriptor.digest)) return false;
    seen.add(descriptor.digest);
    return true;
  });
};

/** Catches a caller that hands us bytes that are not the ones its descriptor names, before anything is written. */
export const checkArchiveImage = (image: ArchiveImage): void => {
  if (image.names.length === 0) throw new AirlockError('BAD_INPUT', 'archive image has no names');
  if (image.manifests.length === 0) {
    throw new AirlockError('BAD_INPUT', `archive image has no platform manifest`, {
      subject: image.names[0],
    });
  }
  for (const tag of image.dockerRepoTags) {
    if (tag.includes('@')) {
      throw new AirlockError('BAD_INPUT', `Docker RepoTags take tag names only, not digests`, {
        subject: tag,
      });
    }
  }
  const small = [image.target, ...image.manifests, ...image.manifests.map((manifest) => manifest.config)];
  for (const { descriptor, bytes } of small) {
    const actual = digestOf(bytes);
    if (
      bytes.length !== descriptor.size ||
      (descriptor.digest.startsWith('sha256:') && actual !== descriptor.digest)
    ) {
      throw new DigestMismatchError(
        `blob ${descriptor.digest} (${descriptor.size} bytes) was handed over as ${bytes.length} bytes hashing to ${actual}`,
        descriptor.digest,
        actual,
        { subject: image.names[0] },
      );
    }
  }
};
