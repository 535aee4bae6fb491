import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

const CHUNK_BYTES = 1 << 20;

/**
 * The sha256 of a file, read into two buffers allocated once: the next chunk is read (on libuv's thread pool)
 * while the current one is hashed. A read stream allocates a fresh 1 MiB buffer per chunk, and the page faults
 * of those allocations cost more than the hash itself: for the runtime's 99 MB node binary, about 600 ms of CPU
 * through createReadStream against about 130 ms here (docs/benchmarks.md, "Start-up of the hook pod").
 */
export const sha256File = async (file: string): Promise<string> => {
  const handle = await open(file, 'r');
  try {
    const hash = createHash('sha256');
    const buffers = [Buffer.allocUnsafeSlow(CHUNK_BYTES), Buffer.allocUnsafeSlow(CHUNK_BYTES)] as const;
    let index: 0 | 1 = 0;
    let position = 0;
    let pending = handle.read(buffers[index], 0, CHUNK_BYTES, position);
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      const current = buffers[index];
      position += bytesRead;
      index = index === 0 ? 1 : 0;
      pending = handle.read(buffers[index], 0, CHUNK_BYTES, position);
      hash.update(current.subarray(0, bytesRead));
    }
    return hash.digest('hex');
  } finally {
    await handle.close();
  }
};
