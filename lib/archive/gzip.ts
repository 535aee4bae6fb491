import { open } from 'node:fs/promises';
import zlib from 'node:zlib';

/** Every gzip member starts with these two bytes (RFC 1952). */
export const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

export const startsWithGzipMagic = (bytes: Buffer): boolean =>
  bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];

/** Decides by content, not by name: operators rename files, and `docker save | gzip > x.tar` happens. */
export const isGzipFile = async (path: string): Promise<boolean> => {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return startsWithGzipMagic(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
};

export const hasGzipName = (path: string): boolean => /\.(?:tar\.gz|tgz|gz)$/i.test(path);

// A gzip member of stored deflate blocks (RFC 1951 section 3.2.4): each block is a 5-byte header (BFINAL and
// BTYPE 00 in the first byte, then LEN and its complement) followed by up to 65535 bytes as they are.
const STORED_BLOCK_BYTES = 0xffff;
// ID1 ID2, CM deflate, no flags, MTIME 0 (the same image always gives the same bytes), XFL 0, OS unknown.
const STORED_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);
const LAST_BLOCK = Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff]);

const blockHeader = (length: number): Buffer => {
  const header = Buffer.alloc(5);
  header.writeUInt16LE(length, 1);
  header.writeUInt16LE(~length & 0xffff, 3);
  return header;
};

/** zlib.crc32 came with Node 20.15: older nodes gzip level 0 through zlib. */
export const canWriteStoredGzip = (): boolean => typeof zlib.crc32 === 'function';

/**
 * What gzip level 0 writes, without zlib: the bytes are framed, not copied, and only the CRC-32 reads them.
 * zlib would copy every byte into its window and out again, and wants large chunks to do so cheaply.
 */
export async function* storedGzip(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield STORED_HEADER;
  let crc = 0;
  let size = 0;
  for await (const chunk of source) {
    crc = zlib.crc32(chunk, crc);
    size = (size + chunk.length) % 2 ** 32;
    for (let offset = 0; offset < chunk.length; offset += STORED_BLOCK_BYTES) {
      const piece = chunk.subarray(offset, offset + STORED_BLOCK_BYTES);
      yield blockHeader(piece.length);
      yield piece;
    }
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(size, 4);
  yield Buffer.concat([LAST_BLOCK, trailer]);
}
