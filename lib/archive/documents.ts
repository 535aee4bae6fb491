import { formatBytes } from '../report/format.ts';
import { ArchiveCorruptError } from './errors.ts';
import { DOCKER_MANIFEST_FILE, INDEX_FILE, OCI_LAYOUT_FILE, REPOSITORIES_FILE } from './layout.ts';
import type { ArchiveDocuments } from './summary.ts';
import type { EntrySink } from './tar-reader.ts';

/** Metadata documents and manifest/config blobs are small; a bigger one is hostile or not an image archive. */
export const DEFAULT_DOCUMENT_LIMIT = 4 * 1024 * 1024;

export interface ArchiveLimits {
  /** Largest index.json, manifest.json, manifest or config blob read into memory; default 4 MiB. */
  documentBytes?: number;
}

export const tooLargeError = (
  archive: string,
  what: string,
  size: number,
  limit: number,
): ArchiveCorruptError =>
  new ArchiveCorruptError(
    `${what} is ${formatBytes(size)}, over the ${formatBytes(limit)} limit for image metadata — refusing to read it into memory; this is not an image archive airlock made`,
    { subject: archive },
  );

/** Collects an entry's body into one buffer; only used for bodies already checked against a limit. */
export const collectInto = (onDone: (bytes: Buffer) => void): EntrySink => {
  const chunks: Buffer[] = [];
  return {
    write: (chunk) => {
      chunks.push(Buffer.from(chunk));
    },
    end: () => onDone(Buffer.concat(chunks)),
  };
};

/**
 * The entries that decide which names a runtime creates (containerd reads index.json or manifest.json once the
 * stream ends; Docker's load reads manifest.json, or `repositories` without it) and the layout marker.
 */
const DOCUMENT_KEYS: Record<string, keyof ArchiveDocuments> = {
  [INDEX_FILE]: 'index',
  [DOCKER_MANIFEST_FILE]: 'dockerManifest',
  [OCI_LAYOUT_FILE]: 'ociLayout',
  [REPOSITORIES_FILE]: 'repositories',
};

/** True for the entries a streaming import holds back until the whole archive checked out. */
export const isNamingDocument = (path: string): boolean => DOCUMENT_KEYS[path] !== undefined;

/** Picks index.json and manifest.json out of the entry stream, refusing oversized ones before buffering. */
export class DocumentCollector {
  readonly documents: ArchiveDocuments = {};
  readonly #archive: string;
  readonly #limit: number;

  constructor(archive: string, limits: ArchiveLimits = {}) {
    this.#archive = archive;
    this.#limit = limits.documentBytes ?? DEFAULT_DOCUMENT_LIMIT;
  }

  /** A sink for `name` when it is one of the documents, else undefined. */
  sinkFor(name: string, type: string, size: number): EntrySink | undefined {
    if (type !== 'File' && type !== 'OldFile') return undefined;
    const key = DOCUMENT_KEYS[name];
    if (!key) return undefined;
    if (size > this.#limit) throw tooLargeError(this.#archive, name, size, this.#limit);
    return collectInto((bytes) => {
      this.documents[key] = bytes;
    });
  }

  get complete(): boolean {
    return this.documents.index !== undefined && this.documents.dockerManifest !== undefined;
  }
}
