import { z } from 'zod';
import { DigestMismatchError } from '../errors.ts';
import {
  configPlatform,
  Descriptor,
  DockerArchiveManifest,
  digestAlgorithm,
  hashForDigest,
  ImageConfig,
  ImageManifest,
} from '../oci/index.ts';
import { tooLargeError } from './documents.ts';
import { normalizeEntryPath } from './entries.ts';
import { ArchiveCorruptError } from './errors.ts';
import { blobPath, digestOfBlobPath } from './layout.ts';
import { type ArchiveDocuments, type ArchiveSummary, configDigestOfPath, parseDocument } from './summary.ts';
import type { EntrySink, TarEntry } from './tar-reader.ts';

const JSON_START = 0x7b; // '{': manifests, indexes and configs are JSON objects; layers never start with it.
// Bounds memory when a foreign archive puts blobs before the documents that say which ones are manifests.
const MAX_BUFFERED_TOTAL = 64 * 1024 * 1024;

const Manifests = z.looseObject({ manifests: z.array(Descriptor) });

/**
 * Everything a full pass learns about an archive's entries: which files exist, that every content-addressed
 * blob hashes to its name, and the bytes of the small JSON blobs needed to check references afterwards.
 */
export class ContentTracker {
  readonly #archive: string;
  readonly #limit: number;
  readonly #files = new Set<string>();
  readonly #aliases = new Set<string>();
  readonly #json = new Map<string, Buffer>();
  readonly #sizes = new Map<string, number>();
  #buffered = 0;

  constructor(archive: string, limit: number) {
    this.#archive = archive;
    this.#limit = limit;
  }

  sinkFor(entry: TarEntry, name: string): EntrySink | undefined {
    if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile')
      return undefined;
    this.#files.add(name);
    const digest = digestOfBlobPath(name) ?? configDigestOfPath(name);
    const hash = digest ? hashForDigest(digest) : undefined;
    if (!digest || !hash) return undefined;
    const algorithm = digestAlgorithm(digest);
    const expected = digest.slice(algorithm.length + 1);
    this.#sizes.set(digest, entry.size);
    let kept: Buffer[] | undefined =
      entry.size <= this.#limit && this.#buffered + entry.size <= MAX_BUFFERED_TOTAL ? [] : undefined;
    return {
      write: (chunk) => {
        hash.update(chunk);
        if (kept?.length === 0 && chunk[0] !== JSON_START) kept = undefined;
        kept?.push(Buffer.from(chunk));
      },
      end: () => {
        const actual = hash.digest('hex');
        if (actual !== expected) {
          throw new DigestMismatchError(
            `blob ${name} hashes to ${algorithm}:${actual}, not the ${digest} its name promises — the archive is damaged; export the image again`,
            digest,
            `${algorithm}:${actual}`,
            { subject: this.#archive },
          );
        }
        if (!kept) return;
        this.#json.set(digest, Buffer.concat(kept));
        this.#buffered += entry.size;
      },
    };
  }

  /** True when `path` is a regular file of the archive, or a link a reader let through to one (see EntryRules). */
  exists(path: string): boolean {
    const name = normalizeEntryPath(path);
    return this.#files.has(name) || this.#aliases.has(name);
  }

  /** Records a link entry that names a regular file seen before it. */
  alias(name: string): void {
    this.#aliases.add(name);
  }

  /** The bytes of a manifest, index or config blob; refuses one that is missing, oversized or not JSON. */
  document(digest: string, role: string): Buffer {
    const bytes = this.#json.get(digest);
    if (bytes) return bytes;
    const size = this.#sizes.get(digest);
    if (size === undefined) {
      throw new ArchiveCorruptError(
        `the ${role} ${digest} is missing (no ${blobPath(digest)} entry) — export the image again`,
        { subject: this.#archive },
      );
    }
    if (size > this.#limit) throw tooLargeError(this.#archive, `the ${role} ${digest}`, size, this.#limit);
    throw new ArchiveCorruptError(`the ${role} ${digest} is not a JSON document`, { subject: this.#archive });
  }

  requireFile(path: string, why: string): void {
    if (!this.exists(path)) {
      throw new ArchiveCorruptError(
        `${why} ${path}, which the archive does not contain — export the image again`,
        { subject: this.#archive },
      );
    }
  }
}

/** Checks one platform manifest's config and layers are in the archive; returns its platform. */
const checkManifest = (archive: string, tracker: ContentTracker, digest: string): string | undefined => {
  const manifest = parseDocument(
    archive,
    `manifest ${digest}`,
    tracker.document(digest, 'manifest'),
    ImageManifest,
  );
  const config = parseDocument(
    archive,
    `config ${manifest.config.digest}`,
    tracker.document(manifest.config.digest, 'config'),
    ImageConfig,
  );
  for (const layer of manifest.layers) {
    // Non-distributable layers (urls) are fetched by the runtime from elsewhere, by design.
    if (!layer.urls?.length)
      tracker.requireFile(blobPath(layer.digest), `manifest ${digest} lists the layer`);
  }
  return configPlatform(config);
};

/** Follows index.json to every manifest the archive holds; the platforms each top-level image carries. */
const checkOciImage = (archive: string, tracker: ContentTracker, digest: string): string[] => {
  tracker.requireFile(blobPath(digest), `index.json names ${digest} but there is no`);
  const bytes = tracker.document(digest, 'manifest or index');
  const asIndex = Manifests.safeParse(parseDocument(archive, `manifest ${digest}`, bytes, z.looseObject({})));
  if (!asIndex.success) return [checkManifest(archive, tracker, digest) ?? []].flat();
  const present = asIndex.data.manifests.filter((child) => tracker.exists(blobPath(child.digest)));
  if (present.length === 0) {
    throw new ArchiveCorruptError(`none of the manifests listed by index ${digest} is in the archive`, {
      subject: archive,
    });
  }
  return present.flatMap((child) => checkManifest(archive, tracker, child.digest) ?? []);
};

/** Checks manifest.json's paths resolve; maps each entry's config digest to its platform. */
const checkDockerEntries = (archive: string, tracker: ContentTracker, bytes: Buffer): Map<string, string> => {
  const platforms = new Map<string, string>();
  for (const entry of parseDocument(archive, 'manifest.json', bytes, DockerArchiveManifest)) {
    tracker.requireFile(entry.Config, 'manifest.json names the config');
    for (const layer of entry.Layers) tracker.requireFile(layer, 'manifest.json names the layer');
    const digest = configDigestOfPath(entry.Config);
    if (!digest) continue;
    const config = parseDocument(archive, entry.Config, tracker.document(digest, 'config'), ImageConfig);
    const platform = configPlatform(config);
    if (platform) platforms.set(digest, platform);
  }
  return platforms;
};

/** After a full pass: every reference resolves inside the archive; adds the platforms to the summary. */
export const checkReferences = (
  summary: ArchiveSummary,
  documents: ArchiveDocuments,
  tracker: ContentTracker,
): ArchiveSummary => {
  const dockerPlatforms = documents.dockerManifest
    ? checkDockerEntries(summary.path, tracker, documents.dockerManifest)
    : new Map<string, string>();
  const images = summary.images.map((image) => {
    const platforms = image.digest
      ? checkOciImage(summary.path, tracker, image.digest)
      : [dockerPlatforms.get(image.configDigest ?? '') ?? []].flat();
    return { ...image, platforms: [...new Set(platforms)] };
  });
  return { ...summary, images };
};
