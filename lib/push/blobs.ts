import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { Descriptor } from '../oci/index.ts';
import type { BlobSource, RegistryUploader } from '../registry/index.ts';

/**
 * Where each blob is known to be in the target registry during one run, and a queue per digest, so that a blob
 * pushed to one repository is mounted into the next instead of sent again, and a blob goes into a repository once
 * however many images (or archives of one image) need it at the same time.
 */
export class BlobLedger {
  readonly #present = new Map<string, Set<string>>();
  /** Digest -> the end of its queue: settles when the last work queued on that digest is done. */
  readonly #queues = new Map<string, Promise<void>>();

  has(digest: string, repository: string): boolean {
    return this.#present.get(digest)?.has(repository) ?? false;
  }

  add(digest: string, repository: string): void {
    const repositories = this.#present.get(digest) ?? new Set<string>();
    repositories.add(repository);
    this.#present.set(digest, repositories);
  }

  /** A repository that holds the blob, other than `repository`. */
  elsewhere(digest: string, repository: string): string | undefined {
    for (const candidate of this.#present.get(digest) ?? []) if (candidate !== repository) return candidate;
    return undefined;
  }

  /** Runs `work` once every work queued before it on the same digest is done, whatever its outcome. */
  async exclusive<T>(digest: string, work: () => Promise<T>): Promise<T> {
    const before = this.#queues.get(digest) ?? Promise.resolve();
    let release = () => {};
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const end = before.then(() => done);
    this.#queues.set(digest, end);
    await before;
    try {
      return await work();
    } finally {
      release();
      if (this.#queues.get(digest) === end) this.#queues.delete(digest);
    }
  }
}

/** Whether `repository` already serves the blob: the ledger, else a HEAD. Writes nothing in the registry. */
export const blobPresent = async (
  uploader: RegistryUploader,
  ledger: BlobLedger,
  repository: string,
  digest: string,
  signal?: AbortSignal,
): Promise<boolean> => {
  if (ledger.has(digest, repository)) return true;
  if (!(await uploader.hasBlob(repository, digest, signal))) return false;
  ledger.add(digest, repository);
  return true;
};

/**
 * A blob's bytes in a file, from `base` on: an extracted blob (base 0), or a blob read in place from an uncompressed
 * archive. Reopened for each attempt or chunk, so a retry never needs the bytes kept in memory.
 */
export const fileSource = (path: string, size: number, base = 0): BlobSource => ({
  size,
  open: (start, end) =>
    end > start
      ? createReadStream(path, { start: base + start, end: base + end - 1, highWaterMark: 1 << 20 })
      : Readable.from([]),
});

export type BlobOutcome = 'present' | 'mounted' | 'uploaded';

/**
 * Puts a blob into a repository that lacked it when checked: mounted when the run already put it in another
 * repository, else sent. One digest at a time across the run, deciding again once its turn comes: another image may
 * have put it there meanwhile. Every commit and every mount rewrites the repository's link file for the blob, and
 * Distribution's filesystem driver truncates that file before writing it, so a manifest PUT checking its blobs in
 * that instant reads an empty link and is refused with DIGEST_INVALID: nothing may write a link twice in one run.
 */
export const putBlob = (
  uploader: RegistryUploader,
  ledger: BlobLedger,
  repository: string,
  descriptor: Descriptor,
  /** The bytes, asked for only when they must go up. */
  source: () => Promise<BlobSource>,
  options: { signal?: AbortSignal; onBytes?: (bytes: number) => void },
): Promise<BlobOutcome> =>
  ledger.exclusive(descriptor.digest, async () => {
    const { digest } = descriptor;
    if (ledger.has(digest, repository)) return 'present';
    const from = ledger.elsewhere(digest, repository);
    if (from && (await uploader.mountBlob(repository, digest, from, options.signal))) {
      ledger.add(digest, repository);
      return 'mounted';
    }
    await uploader.uploadBlob(repository, descriptor, await source(), options);
    ledger.add(digest, repository);
    return 'uploaded';
  });
