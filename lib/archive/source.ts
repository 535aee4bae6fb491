import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { AirlockError } from '../errors.ts';
import { ArchiveCorruptError } from './errors.ts';
import { hasGzipName, isGzipFile } from './gzip.ts';

const READ_CHUNK = 1 << 20;

const isZlibError = (error: unknown): error is Error & { code: string } => {
  const code = (error as { code?: unknown } | undefined)?.code;
  return error instanceof Error && typeof code === 'string' && code.startsWith('Z_');
};

/** Maps what can go wrong while reading an archive to errors that name the file. */
export const toReadError = (path: string, error: unknown): unknown => {
  if (error instanceof AirlockError) return error;
  if (isZlibError(error)) {
    return new ArchiveCorruptError(
      `the gzip stream is damaged (${error.message}) — the file is truncated or corrupted; copy it again`,
      { subject: path, cause: error },
    );
  }
  if ((error as { code?: unknown } | undefined)?.code === 'ENOENT') {
    return new AirlockError('NOT_FOUND', `no such archive`, { subject: path, cause: error });
  }
  return error;
};

export interface ReadTarOptions {
  /** Sees every byte of the file as stored (compressed or not), for the whole-file checksum. */
  onFileChunk?: (chunk: Buffer) => void;
  /** Sees the uncompressed tar stream; returning true stops reading early. */
  onTarChunk: (chunk: Buffer) => boolean | undefined;
  signal?: AbortSignal;
  /** Read and gunzip buffer size; small when only the first entries are wanted. Default 1 MiB. */
  chunkBytes?: number;
  /**
   * Asked before each read of an uncompressed file, with the bytes left in it: how many of them the consumer steps
   * over (never more than are left), read past with a seek. A gzip'ed file is read whole. Not with onFileChunk,
   * which must see every byte.
   */
  skip?: (available: number) => number;
}

/** An uncompressed file read with positioned reads, seeking past what `skip` says nobody reads. */
const readPlainSkipping = async (
  path: string,
  options: ReadTarOptions & { skip: (available: number) => number },
): Promise<void> => {
  const chunkBytes = options.chunkBytes ?? READ_CHUNK;
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    let position = 0;
    for (;;) {
      options.signal?.throwIfAborted();
      const skipped = options.skip(size - position);
      if (skipped > 0) {
        position += skipped;
        continue;
      }
      // A fresh buffer each time: sinks may keep views of what they were handed.
      const { bytesRead, buffer } = await file.read(Buffer.allocUnsafe(chunkBytes), 0, chunkBytes, position);
      if (bytesRead === 0 || options.onTarChunk(buffer.subarray(0, bytesRead))) return;
      position += bytesRead;
    }
  } finally {
    await file.close();
  }
};

/** One streaming pass over an archive file, gunzipping in-process when it starts with the gzip magic. */
export const readTar = async (path: string, options: ReadTarOptions): Promise<{ compressed: boolean }> => {
  const compressed = await isGzipFile(path).catch((error: unknown) => {
    throw toReadError(path, error);
  });
  // Checked before any byte is parsed: read as a tar, gzip-less bytes would only say "truncated".
  if (hasGzipName(path) && !compressed) {
    throw new ArchiveCorruptError(
      `named like a gzip file but is not gzip-compressed (no gzip magic bytes) — rename it to .tar if it is a plain tar, or copy it again`,
      { subject: path },
    );
  }
  if (!compressed && options.skip && !options.onFileChunk) {
    const { skip } = options;
    await readPlainSkipping(path, { ...options, skip }).catch((error: unknown) => {
      throw toReadError(path, error);
    });
    return { compressed };
  }
  let stopped = false;
  // What the reader refused (a hostile entry, an oversized document): tearing down gunzip after it makes
  // pipeline() reject with an AbortError instead, which would hide the reason.
  let refused: unknown;
  const consume = async (source: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of source) {
      let stop: boolean | undefined;
      try {
        stop = options.onTarChunk(chunk);
      } catch (error) {
        refused = error;
        throw error;
      }
      if (stop) {
        stopped = true;
        return;
      }
    }
  };
  const chunkBytes = options.chunkBytes ?? READ_CHUNK;
  const file = createReadStream(path, { highWaterMark: chunkBytes });
  const { onFileChunk } = options;
  if (onFileChunk) file.on('data', (chunk) => onFileChunk(chunk as Buffer));
  const signal = options.signal ? { signal: options.signal } : {};
  try {
    if (compressed) await pipeline(file, createGunzip({ chunkSize: chunkBytes }), consume, signal);
    else await pipeline(file, consume, signal);
  } catch (error) {
    if (refused !== undefined) throw refused;
    // Stopping early tears the stream down (premature close, abort, or a gzip error in bytes we no longer need).
    if (!stopped || options.signal?.aborted) throw toReadError(path, error);
  }
  return { compressed };
};

/**
 * The uncompressed tar stream of an archive, for `ctr images import -`: containerd 1.6 cannot read a gzip'ed
 * archive, so gzip is undone here whatever the file is called. With `decompress: false`, the bytes as stored,
 * for a runtime that undoes gzip itself (Docker's image load): one inflate fewer on the node's CPUs.
 */
export const openTarStream = (path: string, options: { decompress?: boolean } = {}): Readable => {
  const output = new PassThrough({ highWaterMark: READ_CHUNK });
  const fail = (error: unknown): void => {
    if (!output.destroyed) output.destroy(toReadError(path, error) as Error);
  };
  isGzipFile(path).then((compressed) => {
    // Not pipeline(): it would destroy `output` with the raw zlib error before we could name the file.
    const file = createReadStream(path, { highWaterMark: READ_CHUNK });
    file.once('error', fail);
    // The consumer (ctr, Docker) went away: stop reading the file.
    output.once('close', () => file.destroy());
    if (!compressed || options.decompress === false) {
      file.pipe(output);
      return;
    }
    const gunzip = createGunzip({ chunkSize: READ_CHUNK });
    gunzip.once('error', fail);
    output.once('close', () => gunzip.destroy());
    file.pipe(gunzip).pipe(output);
  }, fail);
  return output;
};
