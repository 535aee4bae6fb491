import { createCipheriv, createHash } from 'node:crypto';

const CHUNK_SIZE = 1 << 20;
// One zero buffer for the whole process: the cipher turns it into keystream without a fresh allocation per chunk.
const ZEROS = Buffer.alloc(CHUNK_SIZE);

/**
 * Deterministic, incompressible bytes: the AES-256-CTR keystream of a key derived from `seed`.
 * AES-NI makes this ~2 GB/s, far faster than anything downstream (hashing, gzip, disk).
 */
export function* seededChunks(seed: string, size: number): Generator<Buffer> {
  const key = createHash('sha256').update(`airlock-factory:${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  let remaining = size;
  while (remaining > 0) {
    const length = Math.min(remaining, CHUNK_SIZE);
    yield cipher.update(length === CHUNK_SIZE ? ZEROS : ZEROS.subarray(0, length));
    remaining -= length;
  }
}

/** The same bytes as `seededChunks`, in one buffer: only for small contents. */
export const seededBytes = (seed: string, size: number): Buffer =>
  Buffer.concat([...seededChunks(seed, size)]);
