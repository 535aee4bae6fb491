import { open } from 'node:fs/promises';

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
