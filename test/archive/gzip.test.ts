import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isStoredGzipFile, storedGunzip, storedGzip } from '../../lib/archive/gzip.ts';
import { run } from '../../lib/exec/run.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-gzip-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

// Spans several stored blocks of 65535 bytes, and ends inside one.
const DATA = randomBytes(200_000);

async function* chunksOf(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

const collect = async (source: AsyncIterable<Buffer>): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
};

const storedBytes = async (data: Buffer): Promise<Buffer> => collect(storedGzip(chunksOf(data, 70_000)));

const flipped = (bytes: Buffer, at: number, mask = 1): Buffer => {
  const copy = Buffer.from(bytes);
  copy.writeUInt8(copy.readUInt8(at) ^ mask, at);
  return copy;
};

const isStored = async (bytes: Buffer): Promise<boolean> => {
  const path = join(dir, 'file.gz');
  await writeFile(path, bytes);
  const fd = openSync(path, 'r');
  try {
    return isStoredGzipFile(fd);
  } finally {
    closeSync(fd);
  }
};

describe('isStoredGzipFile', () => {
  it('accepts gzip level 0 as airlock frames it and as zlib writes it', async () => {
    expect(await isStored(await storedBytes(DATA))).toBe(true);
    expect(await isStored(gzipSync(DATA, { level: 0 }))).toBe(true);
    expect(await isStored(await storedBytes(Buffer.alloc(0)))).toBe(true);
  });

  it('leaves to zlib compressed blocks, a named member, two members, a cut file and a tail', async () => {
    const stored = await storedBytes(DATA);
    await writeFile(join(dir, 'data'), DATA);
    // gzip(1) names the member after its file: a header with FNAME.
    await run('gzip', ['-1', '-k', join(dir, 'data')]);
    expect(await isStored(await readFile(join(dir, 'data.gz')))).toBe(false);
    expect(await isStored(gzipSync(Buffer.alloc(DATA.length), { level: 6 }))).toBe(false);
    expect(await isStored(Buffer.concat([stored, stored]))).toBe(false);
    expect(await isStored(stored.subarray(0, stored.length - 1))).toBe(false);
    expect(await isStored(stored.subarray(0, 70_000))).toBe(false);
    expect(await isStored(Buffer.concat([stored, Buffer.alloc(1)]))).toBe(false);
    expect(await isStored(Buffer.from('plain bytes, not gzip'))).toBe(false);
  });
});

describe('storedGunzip', () => {
  it.each([1, 5, 4096, 65_540, 1 << 20])('gives back the bytes read in chunks of %i', async (size) => {
    const back = await collect(storedGunzip(chunksOf(await storedBytes(DATA), size)));
    expect(back.equals(DATA)).toBe(true);
  });

  it("reads zlib's own gzip level 0, and an empty member", async () => {
    const back = await collect(storedGunzip(chunksOf(gzipSync(DATA, { level: 0 }), 65_536)));
    expect(back.equals(DATA)).toBe(true);
    expect(await collect(storedGunzip(chunksOf(await storedBytes(Buffer.alloc(0)), 3)))).toHaveLength(0);
  });

  it('errors as zlib does when the bytes changed under it', async () => {
    const stored = await storedBytes(DATA);
    const cases: Array<[Buffer, RegExp]> = [
      [flipped(stored, 100_000), /incorrect data check/],
      // LEN of the first block, no longer the complement of NLEN.
      [flipped(stored, 11), /invalid stored block lengths/],
      [flipped(stored, stored.length - 1), /incorrect length check/],
      // FLG: a file name follows the header.
      [flipped(stored, 3, 0x08), /gzip header/],
      [stored.subarray(0, stored.length - 3), /unexpected end of file/],
      [Buffer.concat([stored, Buffer.from([0x1f])]), /unexpected data after the gzip trailer/],
    ];
    for (const [bytes, message] of cases) {
      await expect(collect(storedGunzip(chunksOf(bytes, 4096)))).rejects.toMatchObject({
        code: 'Z_DATA_ERROR',
        message: expect.stringMatching(message),
      });
    }
  });
});
