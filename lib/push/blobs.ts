import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { Descriptor } from '../oci/index.ts';
import type { BlobSource, RegistryUploader } from '../registry/index.ts';

/**
 * Where each blob is known to be in the target registry during one run, so that a blob pushed to one repository
 * is mounted into the next instead of sent again, and two images sharing a layer do not upload it twice at once.
 */
export class BlobLedger {
  readonly #present = new Map<string, Set<string>>();
  readonly #pending = new Map<string, Promise<unknown>>();

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

  /** Waits for an upload of the same blob started by another image, whatever its outcome. */
  async settled(digest: string): Promise<void> {
    await this.#pending.get(digest)?.catch(() => undefined);
  }

  track<T>(digest: string, work: Promise<T>): Promise<T> {
    this.#pending.set(digest, work);
    return work.finally(() => {
      if (this.#pending.get(digest) === work) this.#pending.delete(digest);
    });
  }
}

export type BlobDecision = 'present' | 'mounted' | 'upload';

/** A cross-repository mount from a repository the run already put the blob in; false when there is none or the registry declines. */
const mountFromLedger = async (
  uploader: RegistryUploader,
  ledger: BlobLedger,
  repository: string,
  digest: string,
  signal?: AbortSignal,
): Promise<boolean> => {
  const from = ledger.elsewhere(digest, repository);
  if (!from || !(await uploader.mountBlob(repository, digest, from, signal))) return false;
  ledger.add(digest, repository);
  return true;
};

/** HEAD, then a cross-repository mount from where the run put it, else the bytes must go up. */
export const decideBlob = async (
  uploader: RegistryUploader,
  ledger: BlobLedger,
  repository: string,
  digest: string,
  signal?: AbortSignal,
): Promise<BlobDecision> => {
  await ledger.settled(digest);
  if (ledger.has(digest, repository)) return 'present';
  if (await uploader.hasBlob(repository, digest, signal)) {
    ledger.add(digest, repository);
    return 'present';
  }
  return (await mountFromLedger(uploader, ledger, repository, digest, signal)) ? 'mounted' : 'upload';
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

export const uploadBlob = (
  uploader: RegistryUploader,
  ledger: BlobLedger,
  repository: string,
  descriptor: Descriptor,
  source: BlobSource,
  options: { signal?: AbortSignal; onBytes?: (bytes: number) => void },
): Promise<void> =>
  ledger.track(
    descriptor.digest,
    uploader
      .uploadBlob(repository, descriptor, source, options)
      .then(() => ledger.add(descriptor.digest, repository)),
  );

/** Puts a blob the repository lacks there: mounted when the run already put it in another repository, else sent. */
export const putBlob = async (
  uploader: RegistryUploader,
  ledger: BlobLedger,
  repository: string,
  descriptor: Descriptor,
  source: BlobSource,
  options: { signal?: AbortSignal; onBytes?: (bytes: number) => void },
): Promise<'mounted' | 'uploaded'> => {
  if (await mountFromLedger(uploader, ledger, repository, descriptor.digest, options.signal))
    return 'mounted';
  await uploadBlob(uploader, ledger, repository, descriptor, source, options);
  return 'uploaded';
};
