import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  openTarStream,
  readArchiveSummary,
  verifyArchive,
  writeImageArchive,
} from '../../lib/archive/index.ts';
import { run, spawn, toCommandError } from '../../lib/exec/run.ts';
import { type FixtureImage, fixtureImage } from './fixture-image.ts';

/** The archive against the real runtimes and tools: containerd's import, Docker's load and save, skopeo. */

const rig = inject('rig');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-runtimes-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// Unique repositories: the rig's daemons are shared with other test files.
const uniqueFixture = (label: string, options: { platforms?: string[] } = {}): FixtureImage =>
  fixtureImage({
    repository: `docker.io/library/airlock-${label}-${randomBytes(4).toString('hex')}`,
    seed: randomBytes(8).toString('hex'),
    pinned: true,
    ...options,
  });

const ctr = (...args: string[]) => run('ctr', ['--address', rig.containerd.address, '-n', 'k8s.io', ...args]);
const docker = (...args: string[]) => run('docker', ['-H', rig.docker.host, ...args]);

/** Feeds the archive's tar stream to a command's stdin, as the importer does (execa takes only fd-backed streams as stdin). */
const runWithArchive = async (path: string, file: string, args: string[]): Promise<void> => {
  const subprocess = spawn(file, args, { stdin: 'pipe' });
  const { stdin } = subprocess;
  if (!stdin) throw new Error(`${file}: no stdin pipe`);
  try {
    await Promise.all([pipeline(openTarStream(path), stdin), subprocess]);
  } catch (error) {
    subprocess.kill();
    throw toCommandError([file, ...args].join(' '), error);
  }
};

/** name -> target digest, from `ctr images ls`. */
const containerdImages = async (): Promise<Map<string, string>> => {
  const { stdout } = await ctr('images', 'ls');
  const images = new Map<string, string>();
  for (const line of stdout.split('\n').slice(1)) {
    const [name, , digest] = line.split(/\s+/);
    if (name && digest) images.set(name, digest);
  }
  return images;
};

describe('containerd import', () => {
  for (const compression of ['none', 'gzip'] as const) {
    it(`creates both the repo:tag and the repo@digest name with the index digest as target (${compression})`, async () => {
      const { image, openLayer } = uniqueFixture('ctr', { platforms: ['linux/amd64', 'linux/arm64'] });
      const path = join(dir, `ctr-${compression}.tar${compression === 'gzip' ? '.gz' : ''}`);
      await writeImageArchive({ path, image, openLayer, compression });
      await verifyArchive(path);

      await runWithArchive(path, 'ctr', [
        '--address',
        rig.containerd.address,
        '-n',
        'k8s.io',
        'images',
        'import',
        '-',
      ]);
      try {
        const images = await containerdImages();
        const digest = image.target.descriptor.digest;
        expect(image.names).toHaveLength(2);
        for (const name of image.names) expect(images.get(name)).toBe(digest);
      } finally {
        await ctr('images', 'rm', ...image.names);
      }
    });
  }
});

describe('Docker', () => {
  let loaded: FixtureImage;
  let savedPath: string;

  beforeAll(async () => {
    loaded = uniqueFixture('docker', { platforms: ['linux/amd64', 'linux/arm64'] });
    const path = join(dir, 'docker.tar');
    await writeImageArchive({ path, image: loaded.image, openLayer: loaded.openLayer });
    await runWithArchive(path, 'docker', ['-H', rig.docker.host, 'load']);
  });
  afterAll(async () => {
    await docker('image', 'rm', '--force', ...loaded.image.dockerRepoTags).catch(() => undefined);
  });

  it('loads the archive with the RepoTags name and the config digest as image ID', async () => {
    const [repoTag] = loaded.image.dockerRepoTags;
    const { stdout } = await docker(
      'image',
      'inspect',
      '--format',
      '{{.Id}} {{.Os}}/{{.Architecture}}',
      repoTag ?? '',
    );
    expect(stdout).toBe(`${loaded.image.manifests[0]?.config.descriptor.digest} linux/amd64`);
  });

  it('reads the docker save output of the loaded image', async () => {
    const [repoTag] = loaded.image.dockerRepoTags;
    savedPath = join(dir, 'saved.tar');
    await docker('save', '--output', savedPath, repoTag ?? '');
    const expected = {
      format: 'docker',
      compressed: false,
      images: [{ names: [repoTag], configDigest: loaded.image.manifests[0]?.config.descriptor.digest }],
    };
    expect(await readArchiveSummary(savedPath)).toMatchObject(expected);
    expect(await verifyArchive(savedPath)).toMatchObject({ images: [{ platforms: ['linux/amd64'] }] });
  });
});

describe('skopeo archives', () => {
  let fixture: FixtureImage;
  let layoutDir: string;

  beforeAll(async () => {
    fixture = uniqueFixture('skopeo');
    const path = join(dir, 'skopeo-source.tar');
    await writeImageArchive({ path, image: fixture.image, openLayer: fixture.openLayer });
    // An airlock archive unpacked is a plain OCI layout directory, which is what `skopeo copy oci:` reads.
    layoutDir = join(dir, 'layout');
    await mkdir(layoutDir);
    await run('tar', ['-xf', path, '-C', layoutDir]);
  });

  it('refuses a skopeo docker-archive: its legacy <id>/layer.tar paths are symlinks', async () => {
    const [name] = fixture.image.names;
    const output = join(dir, 'skopeo-docker.tar');
    await run('skopeo', [
      '--insecure-policy',
      'copy',
      `oci:${layoutDir}:1.0`,
      `docker-archive:${output}:${name}`,
    ]);
    await expect(verifyArchive(output)).rejects.toMatchObject({
      code: 'ARCHIVE_CORRUPT',
      message: expect.stringMatching(
        /tar entry "[a-f0-9]{64}\/layer\.tar" is a symlink to "\.\.\/[a-f0-9]{64}\.tar"; image archives hold no links/,
      ),
    });
  });

  it('reads a skopeo oci-archive whose ref.name is the whole reference', async () => {
    const [name] = fixture.image.names;
    const output = join(dir, 'skopeo-oci.tar');
    await run('skopeo', [
      '--insecure-policy',
      'copy',
      `oci:${layoutDir}:1.0`,
      `oci-archive:${output}:${name}`,
    ]);
    const summary = await readArchiveSummary(output);
    expect(summary).toMatchObject({
      format: 'oci',
      images: [{ names: [name], digest: expect.stringMatching(/^sha256:/) }],
    });
    expect(await verifyArchive(output)).toMatchObject({ images: [{ platforms: ['linux/amd64'] }] });
  });
});
