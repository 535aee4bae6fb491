import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AirlockError } from '../errors.ts';
import type { BlobSource } from '../registry/index.ts';
import { extractBlobs, type IndexedArchive } from './archive.ts';
import { fileSource } from './blobs.ts';

/**
 * Where the bytes of an image's missing blobs come from: read in place from an uncompressed archive, else extracted
 * into a scratch directory (gzip undone on the way), all wanted blobs in one pass; a blob asked for later (its mount
 * was declined) costs one more pass. `close` removes the scratch directory.
 */
export class BlobSources {
  readonly #archive: IndexedArchive;
  readonly #signal: AbortSignal | undefined;
  readonly #sources = new Map<string, BlobSource>();
  #scratch: Promise<string> | undefined;

  constructor(archive: IndexedArchive, signal?: AbortSignal) {
    this.#archive = archive;
    this.#signal = signal;
  }

  #fileOf(digest: string) {
    const path = this.#archive.stored.get(digest);
    const file = path === undefined ? undefined : this.#archive.files.get(path);
    if (path === undefined || !file) {
      throw new AirlockError('ARCHIVE_CORRUPT', `blob ${digest} is not in the archive`, {
        subject: this.#archive.summary.path,
      });
    }
    return { path, file };
  }

  /** Makes the bytes of `digests` ready: in place when the archive is uncompressed, else extracted in one pass. */
  async prepare(digests: Iterable<string>): Promise<void> {
    const archivePath = this.#archive.summary.path;
    const wanted = new Map<string, string>();
    for (const digest of digests) {
      if (this.#sources.has(digest)) continue;
      const { path, file } = this.#fileOf(digest);
      if (file.offset !== undefined)
        this.#sources.set(digest, fileSource(archivePath, file.size, file.offset));
      else wanted.set(path, digest);
    }
    if (wanted.size === 0) return;
    this.#scratch ??= mkdtemp(join(tmpdir(), 'airlock-push-'));
    const extracted = await extractBlobs(archivePath, wanted, await this.#scratch, this.#signal);
    for (const [digest, file] of extracted) {
      this.#sources.set(digest, fileSource(file, this.#fileOf(digest).file.size));
    }
  }

  async get(digest: string): Promise<BlobSource> {
    if (!this.#sources.has(digest)) await this.prepare([digest]);
    return this.#sources.get(digest)!;
  }

  async close(): Promise<void> {
    const scratch = await this.#scratch?.catch(() => undefined);
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}
