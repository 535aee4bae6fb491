import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Descriptor } from '../oci/index.ts';
import type { ImageReference } from '../reference/index.ts';
import type { RegistryClient } from '../registry/index.ts';

/**
 * Where archive writers get layer bytes. A layer used by one image streams straight from the registry
 * into its archive (one pass, no copy on disk); a layer shared by several images is downloaded once per run
 * into a scratch directory and read from there by each archive.
 */
export interface BlobSource {
  open(repository: ImageReference, descriptor: Descriptor, signal?: AbortSignal): Promise<Readable>;
  /** Removes the scratch directory. */
  dispose(): Promise<void>;
}

export const createBlobSource = (
  client: RegistryClient,
  scratchDir: string,
  shared: ReadonlySet<string>,
): BlobSource => {
  const downloads = new Map<string, Promise<string>>();

  const download = (
    repository: ImageReference,
    descriptor: Descriptor,
    signal?: AbortSignal,
  ): Promise<string> => {
    let pending = downloads.get(descriptor.digest);
    if (!pending) {
      pending = (async () => {
        const file = path.join(scratchDir, descriptor.digest.replace(':', '-'));
        const partial = `${file}.partial`;
        await mkdir(scratchDir, { recursive: true });
        try {
          await pipeline(
            await client.openBlob(repository, descriptor, { signal }),
            createWriteStream(partial),
          );
          await rename(partial, file);
          return file;
        } catch (error) {
          await rm(partial, { force: true });
          throw error;
        }
      })();
      // A failed download may be retried by the next image that needs the blob.
      pending.catch(() => downloads.delete(descriptor.digest));
      downloads.set(descriptor.digest, pending);
    }
    return pending;
  };

  return {
    async open(repository, descriptor, signal) {
      if (!shared.has(descriptor.digest)) return client.openBlob(repository, descriptor, { signal });
      // 1 MiB reads: a shared layer is read once per image, and the default 64 KiB means one thread-pool trip per chunk.
      return createReadStream(await download(repository, descriptor, signal), { highWaterMark: 1 << 20 });
    },
    async dispose() {
      await rm(scratchDir, { recursive: true, force: true });
    },
  };
};

/** Digests referenced by more than one planned image. */
export const sharedDigests = (layerLists: readonly (readonly Descriptor[])[]): Set<string> => {
  const counts = new Map<string, number>();
  for (const layers of layerLists) {
    for (const layer of layers) counts.set(layer.digest, (counts.get(layer.digest) ?? 0) + 1);
  }
  return new Set([...counts].filter(([, count]) => count > 1).map(([digest]) => digest));
};
