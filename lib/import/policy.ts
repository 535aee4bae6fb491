import { z } from 'zod';
import type { ArchiveDocuments, ArchiveSummary } from '../archive/index.ts';
import { AirlockError } from '../errors.ts';
import { Annotation, DockerArchiveManifest, ImageIndex } from '../oci/index.ts';
import { normalizeReference, parseReference, repositoryName } from '../reference/index.ts';
import { digestName, type ImageAllowlist } from './allowlist.ts';

/** An archive asked for a name this release does not use, or for one that points at other content. */
export class ImageNotAllowedError extends AirlockError {
  readonly archive: string;
  readonly image: string;

  constructor(archive: string, image: string, why: string) {
    super('NOT_ALLOWED', `refused: ${why}`, { subject: archive });
    this.name = 'ImageNotAllowedError';
    this.archive = archive;
    this.image = image;
  }
}

/** One name a runtime would create from an archive, as it would write it, and the digest it would point at. */
export interface CreatedName {
  name: string;
  /** The manifest or index digest (index.json); Docker archives carry none. */
  digest?: string;
  from: 'index.json' | 'manifest.json' | 'repositories';
  /** Already normalized by whoever listed it (a summary), so it need not equal its own normalized form. */
  normalized?: boolean;
}

const Repositories = z.record(z.string(), z.record(z.string(), z.string()));

const parseJson = (archive: string, file: string, bytes: Buffer): unknown => {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new AirlockError('ARCHIVE_CORRUPT', `${file} is not valid JSON`, { subject: archive });
  }
};

/**
 * Every name any runtime could take from the archive: containerd stores index.json's name annotation (or a
 * bare ref.name) exactly as written, ctr and Docker tag manifest.json's RepoTags, and Docker's load falls back
 * to `repositories`. All of them are checked, whichever one a runtime ends up reading.
 */
export const createdNames = (archive: string, documents: ArchiveDocuments): CreatedName[] => {
  const names: CreatedName[] = [];
  if (documents.index) {
    const index = ImageIndex.parse(parseJson(archive, 'index.json', documents.index));
    for (const descriptor of index.manifests) {
      const annotations = descriptor.annotations ?? {};
      const name = annotations[Annotation.containerdImageName] || annotations[Annotation.ociRefName];
      if (name) names.push({ name, digest: descriptor.digest, from: 'index.json' });
    }
  }
  if (documents.dockerManifest) {
    const entries = DockerArchiveManifest.parse(
      parseJson(archive, 'manifest.json', documents.dockerManifest),
    );
    for (const tag of entries.flatMap((entry) => entry.RepoTags ?? []))
      names.push({ name: tag, from: 'manifest.json' });
  }
  if (documents.repositories) {
    const parsed = Repositories.safeParse(parseJson(archive, 'repositories', documents.repositories));
    if (!parsed.success)
      throw new AirlockError('ARCHIVE_CORRUPT', `repositories is not Docker's tag file`, {
        subject: archive,
      });
    for (const [repository, tags] of Object.entries(parsed.data)) {
      for (const tag of Object.keys(tags)) names.push({ name: `${repository}:${tag}`, from: 'repositories' });
    }
  }
  // A RepoTag that index.json also names is that entry's image (the exporter writes both for one image).
  const indexed = new Map(
    names.filter((created) => created.digest).map((created) => [created.name, created.digest]),
  );
  return names.map((created) => {
    const digest = created.digest ?? indexed.get(created.name);
    return digest ? { ...created, digest } : created;
  });
};

/** The names a summary read (already normalized), for the early check before any byte reaches the runtime. */
export const namesOfSummary = (summary: ArchiveSummary): CreatedName[] =>
  summary.images.flatMap((image) =>
    image.names.map((name) => ({
      name,
      ...(image.digest ? { digest: image.digest } : {}),
      from: image.digest ? ('index.json' as const) : ('manifest.json' as const),
      normalized: true,
    })),
  );

const normalizedOf = (archive: string, created: CreatedName): string => {
  let normalized: string;
  try {
    normalized = normalizeReference(created.name);
  } catch {
    throw new ImageNotAllowedError(
      archive,
      created.name,
      `its ${created.from} names ${JSON.stringify(created.name)}, which is not an image reference`,
    );
  }
  // containerd stores an index.json name exactly as written: `pause:3.9` would be a name of its own.
  if (created.from === 'index.json' && !created.normalized && normalized !== created.name) {
    throw new ImageNotAllowedError(
      archive,
      created.name,
      `its index.json names ${JSON.stringify(created.name)}, which containerd would store as written, not as ${normalized}`,
    );
  }
  return normalized;
};

/** A `repo@digest` name is allowed beside an allowed `repo:tag` of the same image, or when images.json pins it. */
const isDigestTwin = (
  name: string,
  created: readonly CreatedName[],
  allowlist: ImageAllowlist,
  allowedTags: ReadonlySet<string>,
): boolean => {
  const twin = digestName(name);
  if (!twin) return false;
  const sameImage = created.some(
    (other) =>
      other.digest === twin.digest &&
      allowedTags.has(other.name) &&
      repositoryName(parseReference(other.name)) === twin.repository,
  );
  if (sameImage) return true;
  return [...allowlist.names.keys()].some(
    (listed) =>
      !listed.includes('@') &&
      allowlist.recorded.get(listed) === twin.digest &&
      repositoryName(parseReference(listed)) === twin.repository,
  );
};

/** Throws unless every name the archive would create is one this release uses, on the content it expects. */
export const checkArchiveNames = (
  archive: string,
  names: readonly CreatedName[],
  allowlist: ImageAllowlist,
): void => {
  const normalized = names.map((created) => ({ ...created, name: normalizedOf(archive, created) }));
  const allowedTags = new Set(
    normalized
      .filter((created) => allowlist.names.has(created.name) && !created.name.includes('@'))
      .map((created) => created.name),
  );
  for (const created of normalized) {
    const { name, digest } = created;
    const pinned = digestName(name);
    if (pinned && pinned.digest !== digest) {
      throw new ImageNotAllowedError(
        archive,
        name,
        `it names ${name} but that entry points at ${digest ?? 'content with no manifest digest'}`,
      );
    }
    if (!allowlist.names.has(name) && !isDigestTwin(name, normalized, allowlist, allowedTags)) {
      throw new ImageNotAllowedError(
        archive,
        name,
        `it names ${name}, which is not an image of this release (${allowlist.source})`,
      );
    }
    const expected = allowlist.names.get(name) ?? allowlist.recorded.get(name);
    if (expected !== undefined && digest !== expected) {
      const source =
        allowlist.names.get(name) === undefined ? 'images.json records' : `${allowlist.source} pins`;
      throw new ImageNotAllowedError(
        archive,
        name,
        `it holds ${name} as ${digest ?? 'a Docker archive with no manifest digest'}, ${source} ${expected}`,
      );
    }
  }
};
