import { fstatSync, readSync } from 'node:fs';
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

/** zlib.crc32 came with Node 20.15: older nodes (an importer image built on one) frame no gzip themselves. */
export const hasZlibCrc32 = (): boolean => typeof zlib.crc32 === 'function';

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

const GZIP_HEADER_BYTES = 10;
const BLOCK_HEADER_BYTES = 5;
const TRAILER_BYTES = 8;

/** A stored block's LEN, or undefined when the 5 bytes at the start of `header` are not one (RFC 1951 3.2.4). */
const storedLength = (header: Buffer): number | undefined => {
  // BTYPE 00 in bits 1-2 of a block that starts on a byte: the other five bits are padding.
  if ((header.readUInt8(0) & 0b110) !== 0) return undefined;
  const length = header.readUInt16LE(1);
  return (length ^ header.readUInt16LE(3)) === 0xffff ? length : undefined;
};

const isFinalBlock = (header: Buffer): boolean => (header.readUInt8(0) & 1) === 1;

/** Deflate, and no flags: no name, comment or extra field to step over. */
const isPlainGzipHeader = (header: Buffer): boolean =>
  header.length === GZIP_HEADER_BYTES &&
  startsWithGzipMagic(header) &&
  header.readUInt8(2) === 0x08 &&
  header.readUInt8(3) === 0;

/**
 * Whether the file is one gzip member of stored blocks only, as gzip level 0 writes it, read from its block
 * headers alone: five bytes every 64 KiB. Any other gzip (compressed blocks, a file name in the header, more
 * members, a cut or a tail) is for zlib, which says what is wrong with it.
 */
export const isStoredGzipFile = (fd: number): boolean => {
  const { size } = fstatSync(fd);
  const header = Buffer.alloc(GZIP_HEADER_BYTES);
  if (readSync(fd, header, 0, GZIP_HEADER_BYTES, 0) !== GZIP_HEADER_BYTES || !isPlainGzipHeader(header))
    return false;
  const block = header.subarray(0, BLOCK_HEADER_BYTES);
  for (let at = GZIP_HEADER_BYTES; at + BLOCK_HEADER_BYTES <= size; ) {
    if (readSync(fd, block, 0, BLOCK_HEADER_BYTES, at) !== BLOCK_HEADER_BYTES) return false;
    const length = storedLength(block);
    if (length === undefined) return false;
    at += BLOCK_HEADER_BYTES + length;
    if (isFinalBlock(block)) return at + TRAILER_BYTES === size;
  }
  return false;
};

/** What zlib would say of the same bytes, so a damaged file reads the same whichever way it was inflated. */
const gzipDataError = (message: string): Error => Object.assign(new Error(message), { code: 'Z_DATA_ERROR' });

/** Where a stored member's reader is: the fixed-size part it gathers next, or the bytes of a block it passes on. */
interface StoredMember {
  part: 'header' | 'block' | 'data' | 'trailer' | 'end';
  /** Data bytes left in the current block. */
  left: number;
  final: boolean;
  crc: number;
  size: number;
}

const PART_BYTES = { header: GZIP_HEADER_BYTES, block: BLOCK_HEADER_BYTES, trailer: TRAILER_BYTES } as const;

/** Reads one gathered header, block header or trailer, and moves on to the part after it. */
const readPart = (member: StoredMember, bytes: Buffer): void => {
  if (member.part === 'header') {
    if (!isPlainGzipHeader(bytes)) throw gzipDataError('the gzip header changed');
    member.part = 'block';
  } else if (member.part === 'block') {
    const length = storedLength(bytes);
    if (length === undefined) throw gzipDataError('invalid stored block lengths');
    member.final = isFinalBlock(bytes);
    member.left = length;
    member.part = 'data';
  } else {
    if (bytes.readUInt32LE(0) !== member.crc >>> 0) throw gzipDataError('incorrect data check');
    if (bytes.readUInt32LE(4) !== member.size) throw gzipDataError('incorrect length check');
    member.part = 'end';
  }
};

/** After a block's data (or a block of none): the next block, or the trailer. */
const afterData = (member: StoredMember): void => {
  if (member.part === 'data' && member.left === 0) member.part = member.final ? 'trailer' : 'block';
};

/**
 * Undoes storedGzip: the blocks' bytes are passed on as they were read, not copied through zlib's window, and
 * only the CRC-32 reads them. For files isStoredGzipFile accepted; a file that changes under it errors.
 */
export async function* storedGunzip(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const member: StoredMember = { part: 'header', left: 0, final: false, crc: 0, size: 0 };
  let held = Buffer.alloc(0);
  for await (const chunk of source) {
    for (let at = 0; at < chunk.length; ) {
      if (member.part === 'end') throw gzipDataError('unexpected data after the gzip trailer');
      if (member.part === 'data') {
        const piece = chunk.subarray(at, at + member.left);
        at += piece.length;
        member.left -= piece.length;
        member.crc = zlib.crc32(piece, member.crc);
        member.size = (member.size + piece.length) % 2 ** 32;
        yield piece;
      } else {
        const take = Math.min(PART_BYTES[member.part] - held.length, chunk.length - at);
        held = Buffer.concat([held, chunk.subarray(at, at + take)]);
        at += take;
        if (held.length < PART_BYTES[member.part]) continue;
        readPart(member, held);
        held = Buffer.alloc(0);
      }
      afterData(member);
    }
  }
  if (member.part !== 'end') throw gzipDataError('unexpected end of file');
}
