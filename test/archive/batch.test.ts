import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Parser } from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImportStoppedError, openVerifiedBatch, writeImageArchive } from '../../lib/archive/index.ts';
import { type FixtureImage, fixtureImage } from './fixture-image.ts';
import { rawTar, sha256Hex } from './raw-tar.ts';

/** Several archives in one verified stream, read back by node-tar: no runtime involved. */

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-batch-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const fixture = (label: string, seed = randomBytes(8).toString('hex')): FixtureImage =>
  fixtureImage({ repository: `docker.io/library/batch-${label}`, seed, pinned: true });

/** Writes `image` as an exporter archive; returns its path and sha256. */
const write = async (file: string, image: FixtureImage, compression: 'none' | 'gzip' = 'gzip') => {
  const written = await writeImageArchive({
    path: join(dir, file),
    image: image.image,
    openLayer: image.openLayer,
    compression,
  });
  return { path: written.path, sha256: written.sha256 };
};

interface Read {
  entries: string[];
  index?: { manifests: Array<{ annotations?: Record<string, string> }> };
  error?: Error;
}

/** Every entry of the stream and its index.json, or the error that ended it. */
const readStream = (tar: Readable): Promise<Read> =>
  new Promise((resolve) => {
    const read: Read = { entries: [] };
    const parser = new Parser({
      onReadEntry: (entry) => {
        read.entries.push(entry.path);
        if (entry.path !== 'index.json') return entry.resume();
        const chunks: Buffer[] = [];
        entry.on('data', (chunk: Buffer) => chunks.push(chunk));
        entry.on('end', () => {
          read.index = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        });
      },
    });
    tar.on('data', (chunk: Buffer) => parser.write(chunk));
    tar.on('end', () => parser.end(() => resolve(read)));
    tar.on('error', (error) => resolve({ ...read, error }));
  });

const namesIn = (read: Read) =>
  (read.index?.manifests ?? []).map((manifest) => manifest.annotations?.['io.containerd.image.name']).sort();

describe('openVerifiedBatch', () => {
  it('carries every member that checks out, each blob once, under one index.json naming them all', async () => {
    const seed = randomBytes(8).toString('hex');
    const [a, b, c] = [fixture('a', seed), fixture('b', seed), fixture('c')] as const;
    const members = [await write('a.tar.gz', a), await write('b.tar', b, 'none'), await write('c.tgz', c)];

    const { tar, verified } = openVerifiedBatch(
      members.map(({ path, sha256 }) => ({ path, options: { sha256 } })),
    );
    const read = await readStream(tar);

    expect(read.error).toBeUndefined();
    const summaries = await Promise.all(verified);
    expect(summaries.map((summary) => summary.sha256)).toEqual(members.map(({ sha256 }) => sha256));
    const blobs = read.entries.filter((path) => path.startsWith('blobs/'));
    // a and b have the same content (config, manifest, two layers); c has four blobs of its own.
    expect(blobs).toHaveLength(8);
    expect(new Set(blobs).size).toBe(8);
    expect(read.entries.filter((path) => path === 'index.json' || path === 'oci-layout')).toEqual([
      'oci-layout',
      'index.json',
    ]);
    expect(namesIn(read)).toEqual([...a.image.names, ...b.image.names, ...c.image.names].sort());
  });

  it('leaves out a member that is not an OCI layout, with ImportStoppedError, and names the others', async () => {
    const [a, b] = [fixture('layout-a'), fixture('layout-b')] as const;
    const first = await write('a.tar', a, 'none');
    // b's archive without its oci-layout entry: whole and verified, but not a layout a shared index can name.
    const full = await write('b-full.tar', b, 'none');
    const entries = await tarEntries(full.path);
    const stripped = rawTar(entries.filter((entry) => entry.path !== 'oci-layout'));
    const second = join(dir, 'b.tar');
    await writeFile(second, stripped);

    const { tar, verified } = openVerifiedBatch([
      { path: second, options: { sha256: sha256Hex(stripped) } },
      { path: first.path, options: { sha256: first.sha256 } },
    ]);
    const read = await readStream(tar);

    expect(read.error).toBeUndefined();
    await expect(verified[0]).rejects.toBeInstanceOf(ImportStoppedError);
    await expect(verified[1]).resolves.toMatchObject({ sha256: first.sha256 });
    expect(namesIn(read)).toEqual([...a.image.names].sort());
  });

  it('ends the stream at a member cut inside an entry, and stops the ones after it', async () => {
    const [a, c] = [fixture('cut-a'), fixture('cut-c')] as const;
    const b = fixtureImage({ repository: 'docker.io/library/batch-cut-b', padding: randomBytes(300_000) });
    const first = await write('a.tar.gz', a);
    // Cut in the middle of its 300 KB layer.
    const cut = await write('b.tar.gz', b);
    await truncate(cut.path, Math.floor((await readFile(cut.path)).length / 2));
    const last = await write('c.tar.gz', c);

    const { tar, verified } = openVerifiedBatch([
      { path: first.path, options: { sha256: first.sha256 } },
      { path: cut.path, options: {} },
      { path: last.path, options: { sha256: last.sha256 } },
    ]);
    const read = await readStream(tar);

    expect(read.error).toMatchObject({ code: 'ARCHIVE_CORRUPT' });
    expect(read.index).toBeUndefined();
    await expect(verified[0]).resolves.toMatchObject({ sha256: first.sha256 });
    const [, cutOutcome, lastOutcome] = await Promise.allSettled(verified);
    expect(cutOutcome).toMatchObject({ status: 'rejected', reason: { code: 'ARCHIVE_CORRUPT' } });
    expect((cutOutcome as PromiseRejectedResult).reason).not.toBeInstanceOf(ImportStoppedError);
    expect((lastOutcome as PromiseRejectedResult).reason).toBeInstanceOf(ImportStoppedError);
  });

  it('ends the stream with an error when no member checks out, so the runtime names nothing', async () => {
    const only = await write('a.tar.gz', fixture('none'));
    const { tar, verified } = openVerifiedBatch([
      { path: only.path, options: { sha256: 'f'.repeat(64) } },
      { path: join(dir, 'missing.tar.gz'), options: {} },
    ]);
    const read = await readStream(tar);

    expect(read.error?.message).toMatch(/none of the 2 archives of this import checked out/);
    expect(read.index).toBeUndefined();
    await expect(verified[0]).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    await expect(verified[1]).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

/** The entries of a plain tar with their bodies, as rawTar takes them. */
const tarEntries = async (path: string) => {
  const entries: Array<{ path: string; body: Buffer }> = [];
  const parser = new Parser({
    onReadEntry: (entry) => {
      const chunks: Buffer[] = [];
      entry.on('data', (chunk: Buffer) => chunks.push(chunk));
      entry.on('end', () => entries.push({ path: entry.path, body: Buffer.concat(chunks) }));
    },
  });
  const bytes = await readFile(path);
  await new Promise<void>((resolve) => parser.end(bytes, resolve));
  return entries;
};
