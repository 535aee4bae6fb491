import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createContainerdRuntime } from '../../lib/runtime/index.ts';
import type { FixtureImage } from '../archive/fixture-image.ts';
import {
  type ArchiveSet,
  type Docker25Archive,
  releaseEnv,
  sealDirectory,
  uniqueFixture,
  writeEveryArchiveKind,
  writeExporterArchive,
} from './archives.ts';
import {
  configsOf,
  containerdImages,
  ctrImageList,
  expectImagesOnNode,
  importCounting,
  outcomes,
  removeContainerdImages,
  runImport,
} from './run-import.ts';

/** Exporter and foreign archives through the importer into the rig's real containerd. */

const rig = inject('rig');
let dir: string;
let fixtures: Record<string, FixtureImage>;
let docker25: Docker25Archive;
let set: ArchiveSet;

const args = () => ['--dir', dir, '--containerd-address', rig.containerd.address];

/** A single-platform fixture's names and the config digest CRI knows its image by. */
const fixtureConfig = (image: FixtureImage['image']) => ({
  names: image.names,
  config: image.manifests[0]!.config.descriptor.digest,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-import-ctr-'));
  set = await writeEveryArchiveKind(rig, dir, '', ['exporter.tar', 'exporter.tar.gz', 'exporter.tgz']);
  ({ fixtures, docker25 } = set);
  await sealDirectory(dir);
});

afterAll(async () => {
  await removeContainerdImages(rig, set.names);
  await rm(dir, { recursive: true, force: true });
});

describe('importing into containerd', () => {
  it("imports exporter archives (.tar, .tar.gz, .tgz), docker save | gzip and Docker 25+ archives, and refuses skopeo's symlinks", async () => {
    const { exitCode, summary } = await runImport(args(), releaseEnv(set.names));
    expect(exitCode).toBe(0);
    expect(outcomes(summary)).toEqual(set.outcomes('imported'));
    expect(summary.results?.find((result) => result.archive === 'skopeo.tar')?.reason).toMatch(
      /is a symlink to "\.\.\/[a-f0-9]{64}\.tar"; image archives hold no links/,
    );
    expect(summary).toMatchObject({
      runtime: 'containerd',
      archives: Object.keys(set.outcomes('imported')).length,
      imported: 5,
      failed: 1,
    });
  });

  it('creates every name an exporter archive carries, repo:tag and repo@sha256, on its manifest digest', async () => {
    for (const file of ['exporter.tar', 'exporter.tar.gz', 'exporter.tgz']) {
      const { image } = fixtures[file] as FixtureImage;
      expect(image.names).toEqual([expect.stringMatching(/:1\.0$/), expect.stringMatching(/@sha256:/)]);
      await expectImagesOnNode(rig.containerd.address, image.names, configsOf([fixtureConfig(image)]));
    }
  });

  it('creates the tag of foreign archives, the Docker 25+ one on the manifest digest its index.json names', async () => {
    await expectImagesOnNode(
      rig.containerd.address,
      (fixtures['docker-save.tar.gz'] as FixtureImage).image.names,
    );
    // A tag alone: CRI lists no repo digest for it, containerd's own listing names the manifest it points at.
    expect((await containerdImages(rig)).get(docker25.name)?.digest).toBe(docker25.digest);
  });

  it('pins every imported name with io.cri-containerd.pinned=pinned against kubelet image GC', async () => {
    // ctr's own listing, read as text: the label kubelet's image GC honours, spelled out.
    const lines = (await ctrImageList(rig)).split('\n');
    for (const name of [...set.accepted.flatMap(([, fixture]) => fixture.image.names), docker25.name]) {
      const line = lines.find((candidate) => candidate.startsWith(`${name} `));
      expect(line, name).toMatch(/[\s,]io\.cri-containerd\.pinned=pinned(,|\s|$)/);
    }
  });

  it('reports every archive skipped on a second run over the same directory', async () => {
    const before = await containerdImages(rig);
    const { exitCode, summary, stdout } = await runImport(args(), releaseEnv(set.names));
    expect(exitCode).toBe(0);
    expect(outcomes(summary)).toEqual(set.outcomes('skipped'));
    expect(stdout).toMatch(/^skipped +exporter\.tar {2}.* — already present with the same digest$/m);
    const after = await containerdImages(rig);
    for (const name of set.names) expect(after.get(name), name).toEqual(before.get(name));
  });

  it('streams nothing into the runtime and lists its images once when every archive is present', async () => {
    const { report, calls } = await importCounting(
      dir,
      createContainerdRuntime({ address: rig.containerd.address }),
      set.names,
    );
    expect(Object.fromEntries(report.results.map((result) => [result.image, result.outcome]))).toEqual(
      set.outcomes('skipped'),
    );
    expect(calls).toEqual({ importTar: 0, listImages: 1, pin: 0 });
  });

  it('imports an archive again when its tag now points at other content', async () => {
    const file = 'exporter.tar';
    const { image } = fixtures[file] as FixtureImage;
    const [tagged] = image.names;
    const other = uniqueFixture('moved');
    const otherDir = await mkdtemp(join(tmpdir(), 'airlock-import-moved-'));
    try {
      // Same tag, other content: what an operator sees after re-exporting a moved tag elsewhere.
      await writeExporterArchive(otherDir, 'moved.tar', {
        ...other,
        image: { ...other.image, names: [tagged ?? ''], dockerRepoTags: [tagged ?? ''] },
      });
      await sealDirectory(otherDir);
      const moved = await runImport(
        ['--dir', otherDir, '--containerd-address', rig.containerd.address],
        releaseEnv([tagged ?? '']),
      );
      expect(outcomes(moved.summary)).toEqual({ 'moved.tar': 'imported' });
      const back = await runImport(args(), releaseEnv(set.names));
      expect(outcomes(back.summary)[file]).toBe('imported');
      expect((await containerdImages(rig)).get(tagged ?? '')?.digest).toBe(image.target.descriptor.digest);
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });
});

describe('importing many archives', () => {
  it("confirms each archive's names from ctr's report and lists the node's images once per run", async () => {
    const many = await mkdtemp(join(tmpdir(), 'airlock-import-many-'));
    const images = [uniqueFixture('many'), uniqueFixture('many', { pinned: false })];
    try {
      for (const [position, fixture] of images.entries()) {
        await writeExporterArchive(many, `many-${position}.tar.gz`, fixture);
      }
      await sealDirectory(many);
      const { report, calls } = await importCounting(
        many,
        createContainerdRuntime({ address: rig.containerd.address }),
        images.flatMap((fixture) => fixture.image.names),
      );
      expect(report.results.map((result) => result.outcome)).toEqual(['imported', 'imported']);
      // One listing decides what to skip; a listing after every archive would grow with the node's images.
      expect(calls).toEqual({ importTar: 2, listImages: 1, pin: 2 });
      await expectImagesOnNode(
        rig.containerd.address,
        images.flatMap((fixture) => fixture.image.names),
        configsOf(images.map(({ image }) => fixtureConfig(image))),
      );
    } finally {
      await removeContainerdImages(
        rig,
        images.flatMap((fixture) => fixture.image.names),
      );
      await rm(many, { recursive: true, force: true });
    }
  });
});
