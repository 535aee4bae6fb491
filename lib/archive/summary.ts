import type { z } from 'zod';
import { Annotation, type Descriptor, DockerArchiveManifest, ImageIndex } from '../oci/index.ts';
import { normalizeReference } from '../reference/index.ts';
import { ArchiveCorruptError } from './errors.ts';
import { digestOfBlobPath } from './layout.ts';

/** One image an archive holds, as an importer needs it before importing. */
export interface ArchiveEntryImage {
  /** Normalized names: `docker.io/library/nginx:1.25`, `docker.io/library/nginx@sha256:...`. */
  names: string[];
  /** Top manifest or index digest, when the archive says (OCI index.json). */
  digest?: string;
  /** Docker's image ID. */
  configDigest?: string;
  /** `linux/amd64`, `linux/arm/v7`: known after a full pass (verifyArchive). */
  platforms?: string[];
}

export type ArchiveFormat = 'oci+docker' | 'oci' | 'docker';

export interface ArchiveSummary {
  path: string;
  compressed: boolean;
  format: ArchiveFormat;
  images: ArchiveEntryImage[];
  /** Hex sha256 of the whole file; set by verifyArchive, which hashes every byte anyway. */
  sha256?: string;
}

/** The two small documents that say what an archive holds. */
export interface ArchiveDocuments {
  index?: Buffer;
  dockerManifest?: Buffer;
  ociLayout?: Buffer;
  repositories?: Buffer;
}

export const parseDocument = <T>(archive: string, file: string, bytes: Buffer, schema: z.ZodType<T>): T => {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new ArchiveCorruptError(`${file} is not valid JSON`, { subject: archive, cause: error });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'unexpected shape';
    throw new ArchiveCorruptError(`${file} is not what an image archive holds (${where})`, {
      subject: archive,
      cause: parsed.error,
    });
  }
  return parsed.data;
};

/** A name an importer can use, or undefined for names no runtime would accept. */
const normalizedName = (name: string): string | undefined => {
  try {
    return normalizeReference(name);
  } catch {
    return undefined;
  }
};

/**
 * containerd's name annotation wins; an OCI ref.name counts only when it is a whole reference
 * (`nginx:1.25`), since a bare `1.25` says nothing about the repository.
 */
const nameOfDescriptor = (descriptor: Descriptor): string | undefined => {
  const containerdName = descriptor.annotations?.[Annotation.containerdImageName];
  if (containerdName) return normalizedName(containerdName);
  const refName = descriptor.annotations?.[Annotation.ociRefName];
  if (refName && /[:/@]/.test(refName)) return normalizedName(refName);
  return undefined;
};

/** `blobs/sha256/<hex>` (OCI-style) or `<hex>.json` (docker save before 25) -> `sha256:<hex>`. */
export const configDigestOfPath = (path: string): string | undefined => {
  const fromBlob = digestOfBlobPath(path);
  if (fromBlob) return fromBlob;
  const legacy = /^(?:\.\/)?([a-f0-9]{64})\.json$/.exec(path);
  return legacy ? `sha256:${legacy[1]}` : undefined;
};

const imagesOfIndex = (index: ImageIndex): ArchiveEntryImage[] => {
  const byDigest = new Map<string, ArchiveEntryImage>();
  for (const descriptor of index.manifests) {
    const image = byDigest.get(descriptor.digest) ?? { names: [], digest: descriptor.digest };
    byDigest.set(descriptor.digest, image);
    const name = nameOfDescriptor(descriptor);
    if (name && !image.names.includes(name)) image.names.push(name);
  }
  return [...byDigest.values()];
};

const imagesOfDockerManifest = (entries: DockerArchiveManifest): ArchiveEntryImage[] =>
  entries.map((entry) => {
    const names = (entry.RepoTags ?? []).flatMap((tag) => normalizedName(tag) ?? []);
    const configDigest = configDigestOfPath(entry.Config);
    return { names: [...new Set(names)], ...(configDigest ? { configDigest } : {}) };
  });

/** index.json gives digests and names; manifest.json adds Docker's image ID to the image it tags. */
const mergeDockerEntries = (
  images: ArchiveEntryImage[],
  dockerImages: ArchiveEntryImage[],
): ArchiveEntryImage[] => {
  const merged = images.map((image) => ({ ...image }));
  for (const dockerImage of dockerImages) {
    if (dockerImage.names.length === 0) continue;
    const match = merged.find((image) => image.names.some((name) => dockerImage.names.includes(name)));
    if (!match) {
      merged.push(dockerImage);
      continue;
    }
    match.configDigest ??= dockerImage.configDigest;
    for (const name of dockerImage.names) if (!match.names.includes(name)) match.names.push(name);
  }
  const [only] = merged;
  const [firstDocker] = dockerImages;
  // Digest-only names never appear in RepoTags; with one image, the first Docker entry is still its config.
  if (merged.length === 1 && only && !only.configDigest && firstDocker?.configDigest) {
    only.configDigest = firstDocker.configDigest;
  }
  return merged;
};

export const summarize = (
  archive: string,
  compressed: boolean,
  documents: ArchiveDocuments,
): ArchiveSummary => {
  const { index, dockerManifest } = documents;
  if (!index && !dockerManifest) {
    throw new ArchiveCorruptError(
      `${archive} is neither an OCI image layout (no index.json) nor a Docker archive (no manifest.json) — it is not an image archive`,
    );
  }
  const dockerImages = dockerManifest
    ? imagesOfDockerManifest(parseDocument(archive, 'manifest.json', dockerManifest, DockerArchiveManifest))
    : [];
  if (!index) return { path: archive, compressed, format: 'docker', images: dockerImages };
  const ociImages = imagesOfIndex(parseDocument(archive, 'index.json', index, ImageIndex));
  if (!dockerManifest) return { path: archive, compressed, format: 'oci', images: ociImages };
  return {
    path: archive,
    compressed,
    format: 'oci+docker',
    images: mergeDockerEntries(ociImages, dockerImages),
  };
};
