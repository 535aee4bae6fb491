import { createHash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';

/** A text file's contents, or undefined when it does not exist; any other failure (EACCES, EISDIR) is thrown. */
export const readTextIfExists = async (path: string): Promise<string | undefined> => {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
};

const CHUNK_BYTES = 1 << 20;

/**
 * The sha256 (hex) of a file, read into two buffers allocated once: the next chunk is read (on libuv's thread
 * pool) while the current one is hashed. A read stream allocates a fresh 1 MiB buffer per chunk, and the page
 * faults of those allocations cost more than the hash itself: for the runtime's 99 MB node binary, 300 to 600 ms
 * of CPU through createReadStream against 90 to 140 ms here (docs/benchmarks.md, "Start-up of the hook pod").
 * `signal` stops the read between chunks.
 */
export const sha256File = async (file: string, signal?: AbortSignal): Promise<string> => {
  signal?.throwIfAborted();
  const handle = await open(file, 'r');
  const buffers = [Buffer.allocUnsafeSlow(CHUNK_BYTES), Buffer.allocUnsafeSlow(CHUNK_BYTES)] as const;
  let index: 0 | 1 = 0;
  let position = 0;
  let pending = handle.read(buffers[index], 0, CHUNK_BYTES, position);
  try {
    const hash = createHash('sha256');
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      signal?.throwIfAborted();
      const current = buffers[index];
      position += bytesRead;
      index = index === 0 ? 1 : 0;
      pending = handle.read(buffers[index], 0, CHUNK_BYTES, position);
      hash.update(current.subarray(0, bytesRead));
    }
    return hash.digest('hex');
  } finally {
    // An abort leaves the next read in flight: it must finish before its descriptor is closed.
    await pending.catch(() => undefined);
    await handle.close();
  }
};
