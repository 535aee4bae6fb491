import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildImporterBundle } from '../../importer/build.ts';
import { createLogger } from '../../lib/report/log.ts';
import type { ImageResult } from '../../lib/report/results.ts';
import { createContainerdRuntime } from '../../lib/runtime/index.ts';
import type { FixtureImage } from '../archive/fixture-image.ts';
import { minimalLayout, rawTar, sha256Hex } from '../archive/raw-tar.ts';
import { sealDirectory, uniqueFixture, writeExporterArchive } from './archives.ts';
import {
  containerdImages,
  importCounting,
  removeContainerdImages,
  runImport,
  summaryLines,
} from './run-import.ts';

/**
 * Bad input among good archives: each bad one is one failed result with a reason naming it, the good ones are
 * imported, and no name of a rejected archive appears in the runtime. What the first entries already give away
 * never reaches the runtime; damage further in is found while the archive streams, before its names are sent.
 */

const rig = inject('rig');
let dir: string;
let good: FixtureImage;
const badFixtures: Record<string, FixtureImage> = {};
let results: Map<string, ImageResult>;
let streamed: number;
let logs: string;

/** An exporter archive whose one layer has a byte flipped in place: same size, wrong digest. */
const flipLayerByte = async (path: string, fixture: FixtureImage): Promise<void> => {
  const bytes = await readFile(path);
  const [layer] = [...fixture.layers.values()];
  if (!layer) throw new Error('fixture has no layer');
  // A piece from the layer's middle: a whole layer may span two stored gzip blocks.
  const middle = Math.floor(layer.length / 2);
  const at = bytes.indexOf(layer.subarray(middle, middle + 32));
  if (at < 0) throw new Error('layer bytes not found in the archive');
  bytes[at] = (bytes[at] ?? 0) ^ 0xff;
  await writeFile(path, bytes);
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-import-faults-'));
  good = uniqueFixture('faults-good');
  await writeExporterArchive(dir, 'good.tar.gz', good);

  badFixtures['truncated.tar.gz'] = uniqueFixture('faults-truncated');
  const truncated = await writeExporterArchive(dir, 'truncated.tar.gz', badFixtures['truncated.tar.gz']);
  await truncate(truncated, 3000);

  badFixtures['flipped.tar'] = uniqueFixture('faults-flipped');
  await flipLayerByte(
    await writeExporterArchive(dir, 'flipped.tar', badFixtures['flipped.tar']),
    badFixtures['flipped.tar'],
  );

  // Gzip level 0, as the exporter writes by default: the layer's bytes lie in the file as they are. A layer of
  // 2 MB, so that the damage lies past what is read before the archive streams.
  badFixtures['flipped.tar.gz'] = uniqueFixture('faults-flipped-gz', { padding: randomBytes(2_000_000) });
  await flipLayerByte(
    await writeExporterArchive(dir, 'flipped.tar.gz', badFixtures['flipped.tar.gz']),
    badFixtures['flipped.tar.gz'],
  );

  const raw = (file: string, bytes: Buffer) => writeFile(join(dir, file), bytes);
  await raw('not-gzip.tar.gz', rawTar(minimalLayout()));
  await raw('not-an-image.tar', rawTar([{ path: 'hello.txt', body: 'hello' }]));
  await raw(
    'zip-slip.tar',
    rawTar(minimalLayout([{ path: '../../etc/cron.d/evil', body: '* * * * * root id' }])),
  );
  await raw('absolute.tar', rawTar(minimalLayout([{ path: '/etc/evil', body: 'x' }])));
  await raw(
    'symlink.tar',
    rawTar(minimalLayout([{ path: 'blobs/evil', type: 'SymbolicLink', linkpath: '../../../etc/shadow' }])),
  );
  await raw(
    'tampered-blob.tar',
    rawTar(minimalLayout([{ path: `blobs/sha256/${sha256Hex('expected')}`, body: 'tampered' }])),
  );
  // The header claims 1 GiB of index.json: refused from the header, nothing is buffered.
  await raw(
    'huge-index.tgz',
    gzipSync(rawTar([{ path: 'index.json', size: 1024 * 1024 * 1024 }], { end: false })),
  );
  await writeFile(join(dir, 'README.txt'), 'not an archive');
  // SHA256SUMS over the damaged files: what is refused here is the archive itself, not its copy.
  await sealDirectory(dir);

  const lines: string[] = [];
  const { report, calls } = await importCounting(
    dir,
    createContainerdRuntime({ address: rig.containerd.address }),
    // Every name the archives claim is one the release uses: they are refused for what their bytes are.
    [
      ...good.image.names,
      ...Object.values(badFixtures).flatMap((fixture) => fixture.image.names),
      'docker.io/library/minimal:1',
    ],
    createLogger({
      stream: { write: (text: string) => lines.push(text) } as unknown as NodeJS.WritableStream,
    }),
  );
  logs = lines.join('');
  results = new Map(report.results.map((result) => [result.image, result]));
  streamed = calls.importTar;
});

afterAll(async () => {
  await removeContainerdImages(rig, [
    ...good.image.names,
    ...Object.values(badFixtures).flatMap((f) => f.image.names),
  ]);
  await rm(dir, { recursive: true, force: true });
});

describe('bad archives among good ones', () => {
  it('imports the good archive, and streams only those whose damage lies past the first entries', async () => {
    expect(results.get('good.tar.gz')?.outcome).toBe('imported');
    // good, the two flipped and tampered-blob: the others are refused from their first entries (truncated.tar.gz
    // is cut inside them).
    expect(streamed).toBe(4);
    const images = await containerdImages(rig);
    for (const name of good.image.names)
      expect(images.get(name)?.digest).toBe(good.image.target.descriptor.digest);
  });

  it.each([
    ['truncated.tar.gz', 'ARCHIVE_CORRUPT', 'truncated'],
    ['not-gzip.tar.gz', 'ARCHIVE_CORRUPT', 'named like a gzip file but is not gzip-compressed'],
    [
      'not-an-image.tar',
      'ARCHIVE_CORRUPT',
      'is neither an OCI image layout (no index.json) nor a Docker archive',
    ],
    ['flipped.tar', 'DIGEST_MISMATCH', 'the archive is damaged; export the image again'],
    ['flipped.tar.gz', 'DIGEST_MISMATCH', 'the archive is damaged; export the image again'],
    ['tampered-blob.tar', 'DIGEST_MISMATCH', `blobs/sha256/${sha256Hex('expected')} hashes to sha256:`],
    ['zip-slip.tar', 'ARCHIVE_CORRUPT', `has a '..' path component that climbs out of the archive`],
    ['absolute.tar', 'ARCHIVE_CORRUPT', 'has an absolute path'],
    ['symlink.tar', 'ARCHIVE_CORRUPT', 'is a symlink to "../../../etc/shadow"; image archives hold no links'],
    ['huge-index.tgz', 'ARCHIVE_CORRUPT', 'index.json is 1.0 GiB, over the 4.0 MiB limit'],
  ])('fails %s with %s, naming the file and the reason, in one log line', (file, code, reason) => {
    const result = results.get(file);
    expect(result).toMatchObject({ outcome: 'failed', code, reason: expect.stringContaining(reason) });
    expect(result?.reason).toContain(join(dir, file));
    const line = logs.split('\n').filter((entry) => entry.startsWith(`failed    ${file}  `));
    expect(line).toHaveLength(1);
    expect(line[0]).not.toContain('\n    at ');
  });

  it('leaves no name of a rejected archive in the runtime', async () => {
    const images = await containerdImages(rig);
    for (const fixture of Object.values(badFixtures)) {
      for (const name of fixture.image.names) expect(images.has(name), name).toBe(false);
    }
    expect(images.has('docker.io/library/minimal:1')).toBe(false);
  });

  it('lists the unknown file as ignored', () => {
    expect(logs).toContain('ignored   README.txt  (not .tar, .tar.gz or .tgz)\n');
  });
});

describe('images directory', () => {
  it('reports nothing to do for an empty directory and exits 0, strict or not', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'airlock-import-empty-'));
    try {
      const result = await runImport([
        '--dir',
        empty,
        '--containerd-address',
        rig.containerd.address,
        '--strict',
      ]);
      expect(result.exitCode).toBe(0);
      expect(result.lines[0]).toMatch(/, 0 archive\(s\) in /);
      expect(result.lines).toContainEqual(expect.stringMatching(/^nothing to do in [\d.]+s$/));
      expect(result.summary).toMatchObject({ archives: 0, imported: 0, skipped: 0, failed: 0 });
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('names a missing directory and what to do in one error line; exit 1 only with --strict', async () => {
    const missing = join(dir, 'no-such-dir');
    const tolerant = await runImport(['--dir', missing, '--containerd-address', rig.containerd.address]);
    expect(tolerant.exitCode).toBe(0);
    expect(tolerant.lines[0]).toMatch(/, no archives in .*no-such-dir$/);
    expect(tolerant.lines.filter((line) => line.startsWith('error: '))).toEqual([
      `error: images directory ${missing} does not exist — copy the exported images/ directory to this path on the node (imagePull.imagesPath)`,
    ]);
    expect(tolerant.summary.error).toContain(missing);
    const strict = await runImport([
      '--dir',
      missing,
      '--containerd-address',
      rig.containerd.address,
      '--strict',
    ]);
    expect(strict.exitCode).toBe(1);
  });
});

describe('runtime socket', () => {
  it('says permission denied and what to do when the importer may not open the socket', async () => {
    // A root-owned 0660 socket, as on a node, and the importer as nobody.
    const socketDir = await mkdtemp(join(tmpdir(), 'airlock-import-perm-'));
    const images = join(socketDir, 'images');
    await mkdir(images);
    await chmod(socketDir, 0o755);
    await chmod(images, 0o755);
    // The importer runs as nobody from a bundle in the world-readable scratch directory, not from the checkout,
    // whose parent directories nobody may be unable to enter (a clone under a 0700 directory).
    const bundle = await buildImporterBundle(join(socketDir, 'importer.mjs'));
    await chmod(bundle, 0o644);
    const socket = join(socketDir, 'containerd.sock');
    const server = createServer(() => undefined);
    await new Promise<void>((done) => server.listen(socket, done));
    await chmod(socket, 0o660);
    try {
      const result = await execa(
        'setpriv',
        [
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          process.execPath,
          bundle,
          '--dir',
          images,
          '--containerd-address',
          socket,
          '--strict',
        ],
        { cwd: socketDir, reject: false, env: { NODE_NAME: 'node-a', HOME: '/tmp' } },
      );
      expect(result.exitCode, result.stderr).toBe(1);
      expect(result.stdout.split('\n').filter((line) => line.startsWith('error: '))).toEqual([
        `error: no container runtime answered: ${socket} (permission denied: run the importer as root or mount the socket with the right group) — mount the node's runtime socket (imagePull.runtime / socket values)`,
      ]);
      expect(summaryLines(result.stdout)).toEqual([expect.objectContaining({ runtime: null })]);
    } finally {
      server.close();
      await rm(socketDir, { recursive: true, force: true });
    }
  });
});
