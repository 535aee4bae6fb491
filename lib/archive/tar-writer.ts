import type { Readable } from 'node:stream';
import { Header } from 'tar';
import { DigestMismatchError } from '../errors.ts';

export const BLOCK_SIZE = 512;
const ZERO_BLOCK = Buffer.alloc(BLOCK_SIZE);
/** Two zero blocks close a tar archive. */
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK_SIZE * 2);

// Fixed metadata so the same image always gives the same archive bytes (and sha256).
const EPOCH = new Date(0);

/** A ustar header for a regular file; no PAX record, since every path we write fits in 100 bytes. */
export const fileHeader = (path: string, size: number): Buffer => {
  const header = new Header({
    path,
    size,
    mode: 0o644,
    uid: 0,
    gid: 0,
    mtime: EPOCH,
    type: 'File',
    uname: '',
    gname: '',
  });
  const block = Buffer.alloc(BLOCK_SIZE);
  const needsPax = header.encode(block, 0);
  // Sizes beyond 8 GiB are written base-256 (GNU), which Go's archive/tar reads; a long path would be a bug.
  if (needsPax && Buffer.byteLength(path) >= 100)
    throw new Error(`tar path too long for a ustar header: ${path}`);
  return block;
};

/** Zero bytes that bring an entry body of `size` bytes to a 512-byte boundary. */
export const paddingFor = (size: number): Buffer => {
  const remainder = size % BLOCK_SIZE;
  return remainder === 0 ? Buffer.alloc(0) : ZERO_BLOCK.subarray(0, BLOCK_SIZE - remainder);
};

/** One complete entry whose body is already in memory. */
export function* bufferEntry(path: string, bytes: Buffer): Generator<Buffer> {
  yield fileHeader(path, bytes.length);
  yield bytes;
  yield paddingFor(bytes.length);
}

/**
 * One entry whose body streams from `body`; the pipeline pulls, so a slow disk slows the source.
 * The byte count must equal `size`: the header is written before the body, so a short or long body would corrupt the tar.
 */
export async function* streamEntry(
  path: string,
  size: number,
  digest: string,
  body: Readable,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  // A stalled source would keep the generator (and so the pipeline's teardown) waiting forever: abort it directly.
  const abort = (): void => {
    body.destroy(signal?.reason);
  };
  signal?.addEventListener('abort', abort, { once: true });
  let received = 0;
  try {
    signal?.throwIfAborted();
    yield fileHeader(path, size);
    for await (const chunk of body) {
      const buffer: Buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      received += buffer.length;
      if (received > size) break;
      yield buffer;
    }
  } finally {
    signal?.removeEventListener('abort', abort);
    body.destroy();
  }
  if (received !== size) {
    throw new DigestMismatchError(
      `layer ${digest}: the source delivered ${received > size ? 'more than ' : ''}${received} bytes, its descriptor says ${size} — the registry or cache served a different blob; retry the export`,
      `${size} bytes`,
      `${received} bytes`,
    );
  }
  yield paddingFor(size);
}
