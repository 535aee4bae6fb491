// A plain tar read with `skip`: bodies no sink reads are seeked past, and everything else is as a full read.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readTar } from '../../lib/archive/source.ts';
import { type EntrySink, type TarEntry, TarWalker } from '../../lib/archive/tar-reader.ts';
import { rawTar } from './raw-tar.ts';

const LAYER = randomBytes(3 * 1024 * 1024 + 100);
const CHUNK = 64 * 1024;
// Laid out by hand: header, 10-byte body padded to 512, then the layer's header.
const LAYER_OFFSET = 512 + 512 + 512;
const entries = [
  { path: 'index.json', body: '{"a":"b"}\n' },
  { path: 'blobs/sha256/layer', body: LAYER },
  { path: 'manifest.json', body: '[]' },
];

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-skip-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Walks `path` collecting small bodies; the layer gets a sink only when `readLayer` is set. */
const walk = async (path: string, readLayer = false) => {
  const seen: TarEntry[] = [];
  const bodies = new Map<string, string>();
  const collect = (entry: TarEntry): EntrySink => {
    const parts: Buffer[] = [];
    return {
      write: (chunk) => parts.push(Buffer.from(chunk)),
      end: () => bodies.set(entry.path, Buffer.concat(parts).toString()),
    };
  };
  const walker = new TarWalker(path, (entry) => {
    seen.push(entry);
    return entry.size < 1024 || readLayer ? collect(entry) : undefined;
  });
  let handed = 0;
  await readTar(path, {
    chunkBytes: CHUNK,
    onTarChunk: (chunk) => {
      handed += chunk.length;
      walker.write(chunk);
      return false;
    },
    skip: (available) => walker.skipBody(available),
  });
  walker.end();
  return { seen, bodies, handed };
};

describe('readTar with skip', () => {
  it('seeks past a body no sink reads, and still sees every entry after it', async () => {
    const path = join(dir, 'plain.tar');
    await writeFile(path, rawTar(entries));
    const { seen, bodies, handed } = await walk(path);
    expect(seen.map((entry) => entry.path)).toEqual(['index.json', 'blobs/sha256/layer', 'manifest.json']);
    expect(bodies.get('index.json')).toBe('{"a":"b"}\n');
    expect(bodies.get('manifest.json')).toBe('[]');
    // One chunk of the layer is read with the headers around it; the rest is seeked past.
    expect(handed).toBeLessThanOrEqual(3 * CHUNK);
  });

  it("gives each entry its body's offset in the file", async () => {
    const path = join(dir, 'plain.tar');
    await writeFile(path, rawTar(entries));
    const { seen } = await walk(path);
    const layer = seen.find((entry) => entry.path === 'blobs/sha256/layer');
    expect(layer?.offset).toBe(LAYER_OFFSET);
    const file = await readFile(path);
    expect(file.subarray(LAYER_OFFSET, LAYER_OFFSET + LAYER.length).equals(LAYER)).toBe(true);
    expect(seen[0]?.offset).toBe(512);
  });

  it('reads a body a sink wants', async () => {
    const path = join(dir, 'plain.tar');
    await writeFile(path, rawTar(entries));
    const { bodies, handed } = await walk(path, true);
    expect(bodies.get('blobs/sha256/layer')).toBe(LAYER.toString());
    expect(handed).toBe((await readFile(path)).length);
  });

  it('still finds a file cut short inside a body it would skip', async () => {
    const path = join(dir, 'cut.tar');
    await writeFile(path, rawTar(entries));
    await truncate(path, LAYER_OFFSET + 1024 * 1024);
    await expect(walk(path)).rejects.toThrow(/blobs\/sha256\/layer.*truncated/);
  });

  it('reads a gzip file whole', async () => {
    const path = join(dir, 'packed.tar.gz');
    const tar = rawTar(entries);
    await writeFile(path, gzipSync(tar));
    const { bodies, handed } = await walk(path);
    expect(bodies.get('manifest.json')).toBe('[]');
    expect(handed).toBe(tar.length);
  });
});
