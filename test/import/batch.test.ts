import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { Parser } from 'tar';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ImportReport, importArchives } from '../../lib/import/import.ts';
import { MediaType } from '../../lib/oci/index.ts';
import { createContainerdRuntime } from '../../lib/runtime/index.ts';
import { blobOf, type FixtureImage, fixtureImage, layerTar } from '../archive/fixture-image.ts';
import { sealDirectory, uniqueFixture, writeExporterArchive } from './archives.ts';
import { configsOf, ctrImageList, expectImagesOnNode, removeContainerdImages } from './run-import.ts';

/** Several archives in one `ctr images import` stream, against the rig's real containerd. */

const rig = inject('rig');
const touched: string[] = [];
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'airlock-import-batch-'));
});

afterAll(async () => {
  await removeContainerdImages(rig, touched);
  await rm(root, { recursive: true, force: true });
});

/** Every entry path of each stream the runtime was handed, read by node-tar: what containerd was sent. */
interface Streams {
  entries: string[][];
  indexes: Array<{ manifests: Array<{ annotations?: Record<string, string> }> }>;
}

/** Imports `dir` in-process with one import slot, recording each stream and the warnings. */
const importWatched = async (dir: string, names: readonly string[]) => {
  const real = createContainerdRuntime({ address: rig.containerd.address });
  const streams: Streams = { entries: [], indexes: [] };
  const warnings: string[] = [];
  const runtime = {
    ...real,
    importTar: (tar: Readable, options?: Parameters<typeof real.importTar>[1]) => {
      const entries: string[] = [];
      streams.entries.push(entries);
      const parser = new Parser({
        onReadEntry: (entry) => {
          entries.push(entry.path);
          if (entry.path !== 'index.json') return entry.resume();
          const chunks: Buffer[] = [];
          entry.on('data', (chunk: Buffer) => chunks.push(chunk));
          entry.on('end', () => streams.indexes.push(JSON.parse(Buffer.concat(chunks).toString())));
        },
      });
      const copy = new PassThrough();
      tar.on('data', (chunk: Buffer) => parser.write(chunk));
      tar.on('end', () => parser.end());
      tar.pipe(copy);
      tar.on('error', (error) => copy.destroy(error));
      return real.importTar(copy, options);
    },
  };
  const report: ImportReport = await importArchives({
    dir,
    runtime,
    images: { text: names.join('\n'), source: 'AIRLOCK_IMAGES' },
    concurrency: 1,
    retries: 0,
    timeoutMs: 60_000,
    logger: { info() {}, warn: (line) => warnings.push(line), error() {}, debug() {} },
  });
  const outcome = (file: string) => report.results.find((result) => result.image === file);
  return { report, streams, warnings, outcome };
};

const configOf = (fixture: FixtureImage) => ({
  names: fixture.image.names,
  config: fixture.image.manifests[0]!.config.descriptor.digest,
});

/** A fresh directory of exporter archives, sealed; returns the fixtures by file name. */
const archiveSet = async (label: string, files: Record<string, FixtureImage>) => {
  const dir = await mkdtemp(join(root, `${label}-`));
  for (const [file, fixture] of Object.entries(files)) {
    await writeExporterArchive(dir, file, fixture);
    touched.push(...fixture.image.names);
  }
  await sealDirectory(dir);
  return dir;
};

const namesOf = (...fixtures: FixtureImage[]) => fixtures.flatMap((fixture) => fixture.image.names);

describe('archives sharing one import stream', () => {
  it('sends every archive in one stream, each blob once, and creates every name on its own manifest', async () => {
    // The same content under two repositories: every blob of the second is already in the stream.
    const seed = randomBytes(8).toString('hex');
    const [first, twin] = ['batch-a', 'batch-b'].map((label) =>
      fixtureImage({
        repository: `docker.io/library/airlock-import-${label}-${randomBytes(4).toString('hex')}`,
        seed,
        pinned: true,
      }),
    ) as [FixtureImage, FixtureImage];
    const other = uniqueFixture('batch-c');
    const dir = await archiveSet('whole', { 'a.tar.gz': first, 'b.tar': twin, 'c.tgz': other });

    const { report, streams, warnings } = await importWatched(dir, namesOf(first, twin, other));

    expect(report.results.map((result) => [result.image, result.outcome]).sort()).toEqual([
      ['a.tar.gz', 'imported'],
      ['b.tar', 'imported'],
      ['c.tgz', 'imported'],
    ]);
    expect(streams.entries).toHaveLength(1);
    const entries = streams.entries[0]!;
    const blobs = entries.filter((path) => path.startsWith('blobs/'));
    expect(new Set(blobs).size).toBe(blobs.length);
    // first and twin share all 4 blobs (2 layers, config, manifest); other has 4 of its own.
    expect(blobs).toHaveLength(8);
    expect(entries.filter((path) => path === 'index.json')).toHaveLength(1);
    const annotated = streams.indexes[0]!.manifests.map(
      (manifest) => manifest.annotations?.['io.containerd.image.name'],
    );
    expect(annotated.sort()).toEqual(namesOf(first, twin, other).sort());
    expect(warnings).toEqual([]);
    await expectImagesOnNode(
      rig.containerd.address,
      namesOf(first, twin, other),
      configsOf([configOf(first), configOf(twin), configOf(other)]),
    );
  });

  it('names multi-platform images (an index target) beside single-platform ones in one stream', async () => {
    const multi = fixtureImage({
      repository: `docker.io/library/airlock-import-batch-multi-${randomBytes(4).toString('hex')}`,
      seed: randomBytes(8).toString('hex'),
      platforms: ['linux/amd64', 'linux/arm64'],
      pinned: true,
    });
    const single = uniqueFixture('batch-single');
    const dir = await archiveSet('multi', { 'multi.tar.gz': multi, 'single.tar.gz': single });

    const { report, streams } = await importWatched(dir, namesOf(multi, single));

    expect(report.results.map((result) => result.outcome)).toEqual(['imported', 'imported']);
    expect(streams.entries).toHaveLength(1);
    // The repo@digest name of the multi-platform image is the index's digest, as a pull by that digest would be.
    expect(multi.image.target.descriptor.mediaType).toBe(MediaType.ociIndex);
    await expectImagesOnNode(rig.containerd.address, namesOf(multi, single));
  });

  it('refuses the archive whose checksum does not match, and names the others of the same stream', async () => {
    const [first, changed, last] = ['sum-a', 'sum-b', 'sum-c'].map((label) => uniqueFixture(label));
    const dir = await archiveSet('sum', { 'a.tar.gz': first!, 'b.tar': changed!, 'c.tar.gz': last! });
    // Changed after the export: a tar reader still reads it whole, only its sha256 tells.
    await appendFile(join(dir, 'b.tar'), Buffer.alloc(512));

    const { streams, outcome } = await importWatched(dir, namesOf(first!, changed!, last!));

    expect(outcome('b.tar')).toMatchObject({ outcome: 'failed', code: 'CHECKSUM_MISMATCH' });
    expect(outcome('a.tar.gz')?.outcome).toBe('imported');
    expect(outcome('c.tar.gz')?.outcome).toBe('imported');
    expect(streams.entries).toHaveLength(1);
    await expectImagesOnNode(rig.containerd.address, namesOf(first!, last!));
    const listed = await ctrImageList(rig);
    for (const name of changed!.image.names) expect(listed).not.toContain(name);
  });

  it('stops the stream at an archive cut inside an entry, and imports the others in a second one', async () => {
    const [first, cut, last] = ['cut-a', 'cut-b', 'cut-c'].map((label) => uniqueFixture(label));
    const dir = await mkdtemp(join(root, 'cut-'));
    await writeExporterArchive(dir, 'a.tar.gz', first!);
    const cutPath = await writeExporterArchive(dir, 'b.tar.gz', cut!);
    await writeExporterArchive(dir, 'c.tar.gz', last!);
    touched.push(...namesOf(first!, cut!, last!));
    await truncate(cutPath, Math.floor((await readFile(cutPath)).length / 2));
    // Sealed after the cut: the checksum matches, the damage is found inside an entry.
    await sealDirectory(dir);

    const { streams, outcome } = await importWatched(dir, namesOf(first!, cut!, last!));

    expect(outcome('b.tar.gz')).toMatchObject({ outcome: 'failed', code: 'ARCHIVE_CORRUPT' });
    expect(outcome('b.tar.gz')?.reason).toMatch(/gzip|truncated|unexpected end/i);
    expect(outcome('a.tar.gz')?.outcome).toBe('imported');
    expect(outcome('c.tar.gz')?.outcome).toBe('imported');
    expect(streams.entries).toHaveLength(2);
    expect(streams.entries[1]!.filter((path) => path === 'index.json')).toHaveLength(1);
    await expectImagesOnNode(rig.containerd.address, namesOf(first!, last!));
    const listed = await ctrImageList(rig);
    for (const name of cut!.image.names) expect(listed).not.toContain(name);
  });

  it("imports each archive alone when containerd fails a stream no archive explains, and gives ctr's words for the one it refused", async () => {
    const [first, last] = ['unpack-a', 'unpack-c'].map((label) => uniqueFixture(label));
    const broken = brokenLayerImage(
      `docker.io/library/airlock-import-unpack-${randomBytes(4).toString('hex')}`,
    );
    const dir = await archiveSet('unpack', { 'a.tar.gz': first!, 'b.tar.gz': broken, 'c.tar.gz': last! });

    const { streams, warnings, outcome } = await importWatched(dir, namesOf(first!, broken, last!));

    expect(outcome('a.tar.gz')?.outcome).toBe('imported');
    expect(outcome('c.tar.gz')?.outcome).toBe('imported');
    expect(outcome('b.tar.gz')).toMatchObject({ outcome: 'failed', code: 'COMMAND_FAILED' });
    // ctr's verdict alone, in one line, without the progress it logs before it.
    expect(outcome('b.tar.gz')?.reason).toMatch(
      /^containerd at \S+: ctr images import failed: failed to extract layer sha256:[0-9a-f]{64}: archive\/tar: invalid tar header: unknown$/,
    );
    expect(warnings).toEqual([
      expect.stringMatching(/^3 archives in one import failed: .+ — importing them one at a time$/),
    ]);
    expect(streams.entries).toHaveLength(4);
    await expectImagesOnNode(rig.containerd.address, namesOf(first!, last!));
  });
});

/** A well-formed archive (every digest right) whose second layer is not a tar: containerd fails to unpack it. */
const brokenLayerImage = (repository: string): FixtureImage => {
  const baseTar = layerTar({ 'etc/base.txt': `${repository}\n` });
  const notTar = randomBytes(4096);
  const layers = [gzipSync(baseTar), gzipSync(notTar)];
  const descriptors = layers.map((bytes) => blobOf(MediaType.ociLayerGzip, bytes).descriptor);
  const sha = (bytes: Buffer) => blobOf(MediaType.ociLayer, bytes).descriptor.digest;
  const config = blobOf(
    MediaType.ociConfig,
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [sha(baseTar), sha(notTar)] },
      }),
    ),
  );
  const manifest = blobOf(
    MediaType.ociManifest,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: config.descriptor,
        layers: descriptors,
      }),
    ),
  );
  const tagged = `${repository}:1.0`;
  const byDigest = new Map(descriptors.map((descriptor, position) => [descriptor.digest, layers[position]!]));
  return {
    image: {
      names: [tagged],
      dockerRepoTags: [tagged],
      target: manifest,
      manifests: [{ ...manifest, config, layers: descriptors }],
    },
    layers: byDigest,
    openLayer: async (descriptor) => Readable.from([byDigest.get(descriptor.digest)!]),
  };
};
