// Archives for the importer's tests, built by code: the exporter's own writer, `docker save` from the rig's
// dockerd, skopeo, and the OCI-layout `docker save` of Docker 25+ assembled entry by entry.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { formatChecksums, writeImageArchive } from '../../lib/archive/index.ts';
import { run } from '../../lib/exec/run.ts';
import { MediaType } from '../../lib/oci/index.ts';
import type { RigInfo } from '../../rig/types.ts';
import { type FixtureImage, fixtureImage, layerTar } from '../archive/fixture-image.ts';
import { rawTar, sha256Hex } from '../archive/raw-tar.ts';

/** A repository and content no other test file uses: the rig's daemons are shared. */
export const uniqueFixture = (
  label: string,
  options: { pinned?: boolean; padding?: Buffer } = {},
): FixtureImage =>
  fixtureImage({
    repository: `docker.io/library/airlock-import-${label}-${randomBytes(4).toString('hex')}`,
    seed: randomBytes(8).toString('hex'),
    pinned: options.pinned ?? true,
    ...(options.padding ? { padding: options.padding } : {}),
  });

/** The exporter's archive: plain `.tar` or the `.tar.gz` it writes by default. */
export const writeExporterArchive = async (
  dir: string,
  file: string,
  fixture: FixtureImage,
): Promise<string> => {
  const path = join(dir, file);
  const compression = /\.(tar\.gz|tgz)$/.test(file) ? 'gzip' : 'none';
  await writeImageArchive({
    path,
    image: fixture.image,
    openLayer: fixture.openLayer,
    compression,
    ...(compression === 'gzip' ? { gzipLevel: 0 } : {}),
  });
  return path;
};

/** `docker.io/library/x:1.0` -> `x:1.0`, the name Docker shows and `docker save` takes. */
export const familiarName = (name: string): string => name.replace(/^docker\.io\/library\//, '');

/** Runs `convert` on an exporter archive of `fixture` in a scratch directory under `dir`, removed afterwards. */
const fromExporterArchive = async <T>(
  dir: string,
  label: string,
  fixture: FixtureImage,
  convert: (source: string, scratch: string, tagged: string) => Promise<T>,
): Promise<T> => {
  const [tagged] = fixture.image.dockerRepoTags;
  if (!tagged) throw new Error('fixture has no tag');
  const scratch = await mkdtemp(join(dir, `${label}-`));
  try {
    return await convert(await writeExporterArchive(scratch, 'source.tar', fixture), scratch, tagged);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
};

/**
 * `docker save <tag> | gzip > file` from the rig's dockerd (20.10: the pre-25 layout, manifest.json last).
 * The image is loaded from an exporter archive first and removed again, so only the file carries it.
 */
export const writeDockerSaveGzip = (
  rig: Pick<RigInfo, 'docker'>,
  dir: string,
  file: string,
  fixture: FixtureImage,
): Promise<string> =>
  fromExporterArchive(dir, 'docker-save', fixture, async (source, scratch, tagged) => {
    const docker = ['-H', rig.docker.host];
    try {
      await run('docker', [...docker, 'load', '--input', source]);
      const saved = join(scratch, 'saved.tar');
      await run('docker', [...docker, 'save', '--output', saved, familiarName(tagged)]);
      const path = join(dir, file);
      await pipeline(createReadStream(saved), createGzip(), createWriteStream(path));
      return path;
    } finally {
      await run('docker', [...docker, 'image', 'rm', '--force', familiarName(tagged)]).catch(() => undefined);
    }
  });

/** `skopeo copy oci:<layout> docker-archive:<file>:<name>`: a Docker archive written by another tool. */
export const writeSkopeoDockerArchive = (dir: string, file: string, fixture: FixtureImage): Promise<string> =>
  fromExporterArchive(dir, 'skopeo', fixture, async (source, scratch, tagged) => {
    // An exporter archive unpacked is a plain OCI layout directory, which is what `skopeo copy oci:` reads.
    const layout = join(scratch, 'layout');
    await mkdir(layout);
    await run('tar', ['-xf', source, '-C', layout]);
    const path = join(dir, file);
    await run('skopeo', [
      '--insecure-policy',
      'copy',
      `oci:${layout}:1.0`,
      `docker-archive:${path}:${tagged}`,
    ]);
    return path;
  });

export interface Docker25Archive {
  path: string;
  /** `repo:tag`, as index.json's io.containerd.image.name and manifest.json's RepoTags give it. */
  name: string;
  /** The manifest digest index.json points at. */
  digest: string;
  configDigest: string;
}

/**
 * What `docker save` writes since Docker 25: an OCI layout (index.json with the containerd name annotation and a
 * bare-tag ref.name) plus a manifest.json whose paths are `blobs/sha256/<hex>`, uncompressed layers, and the
 * documents after the blobs, as a walk of Docker's export directory puts them.
 */
export const writeDocker25Archive = async (
  dir: string,
  file: string,
  label: string,
): Promise<Docker25Archive> => {
  const repository = `docker.io/library/airlock-import-${label}-${randomBytes(4).toString('hex')}`;
  const layer = layerTar({ [`etc/airlock-${label}.txt`]: `${randomBytes(8).toString('hex')}\n` });
  const layerHex = sha256Hex(layer);
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/bin/true'] },
    rootfs: { type: 'layers', diff_ids: [`sha256:${layerHex}`] },
  });
  const configHex = sha256Hex(config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: `sha256:${configHex}`, size: config.length },
    layers: [
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        digest: `sha256:${layerHex}`,
        size: layer.length,
      },
    ],
  });
  const manifestHex = sha256Hex(manifest);
  const name = `${repository}:1.0`;
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [
      {
        mediaType: MediaType.ociManifest,
        digest: `sha256:${manifestHex}`,
        size: manifest.length,
        annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': '1.0' },
      },
    ],
  });
  const repoTag = familiarName(name);
  const dockerManifest = JSON.stringify([
    { Config: `blobs/sha256/${configHex}`, RepoTags: [repoTag], Layers: [`blobs/sha256/${layerHex}`] },
  ]);
  const path = join(dir, file);
  await writeFile(
    path,
    rawTar([
      { path: 'blobs/', type: 'Directory' },
      { path: 'blobs/sha256/', type: 'Directory' },
      { path: `blobs/sha256/${configHex}`, body: config },
      { path: `blobs/sha256/${layerHex}`, body: layer },
      { path: `blobs/sha256/${manifestHex}`, body: manifest },
      { path: 'index.json', body: index },
      { path: 'manifest.json', body: dockerManifest },
      { path: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' },
      { path: 'repositories', body: JSON.stringify({ [repoTag.split(':')[0] ?? '']: { '1.0': configHex } }) },
    ]),
  );
  return { path, name, digest: `sha256:${manifestHex}`, configDigest: `sha256:${configHex}` };
};

export interface ArchiveSet {
  /** By file name: every archive of the set but the Docker 25 one, with the image it holds. */
  fixtures: Record<string, FixtureImage>;
  docker25: Docker25Archive;
  /** Every name the set carries. */
  names: string[];
  /**
   * The fixtures an import accepts: all but skopeo's docker-archive, which points its legacy layer paths at the
   * layers with symlinks and is refused every time.
   */
  accepted: [string, FixtureImage][];
  /** Each archive's outcome in a run where the accepted ones get `outcome`. */
  outcomes(outcome: string): Record<string, string>;
}

/**
 * Every kind of archive the importer must accept, written into `dir`: the exporter's own (under each of
 * `exporterFiles`), `docker save | gzip`, a skopeo docker-archive and a Docker 25+ `docker save`.
 */
export const writeEveryArchiveKind = async (
  rig: Pick<RigInfo, 'docker'>,
  dir: string,
  label: string,
  exporterFiles: readonly string[],
): Promise<ArchiveSet> => {
  const fixtures: Record<string, FixtureImage> = {};
  for (const file of exporterFiles) {
    fixtures[file] = uniqueFixture(`${label}exporter`);
    await writeExporterArchive(dir, file, fixtures[file]);
  }
  fixtures['docker-save.tar.gz'] = uniqueFixture(`${label}docker-save`, { pinned: false });
  await writeDockerSaveGzip(rig, dir, 'docker-save.tar.gz', fixtures['docker-save.tar.gz']);
  fixtures['skopeo.tar'] = uniqueFixture(`${label}skopeo`, { pinned: false });
  await writeSkopeoDockerArchive(dir, 'skopeo.tar', fixtures['skopeo.tar']);
  const docker25 = await writeDocker25Archive(dir, 'docker25.tar', 'docker25');
  const refused = (file: string) => file === 'skopeo.tar';
  return {
    fixtures,
    docker25,
    names: [...Object.values(fixtures).flatMap((fixture) => fixture.image.names), docker25.name],
    accepted: Object.entries(fixtures).filter(([file]) => !refused(file)),
    outcomes: (outcome) =>
      Object.fromEntries(
        [...Object.keys(fixtures), 'docker25.tar'].map((file) => [file, refused(file) ? 'failed' : outcome]),
      ),
  };
};

/**
 * SHA256SUMS over every archive in `dir`, as the exporter writes it (or only over `files`); returns the
 * list an importer is given in AIRLOCK_IMAGES for `names`.
 */
export const sealDirectory = async (dir: string, options: { files?: string[] } = {}): Promise<void> => {
  const files = options.files ?? (await readdir(dir)).filter((file) => /\.(tar|tar\.gz|tgz)$/.test(file));
  const entries = [];
  for (const file of files) entries.push({ file, sha256: sha256Hex(await readFile(join(dir, file))) });
  await writeFile(join(dir, 'SHA256SUMS'), formatChecksums(entries));
};

/** The importer's environment for a release that renders `names`. */
export const releaseEnv = (names: readonly string[]): NodeJS.ProcessEnv => ({
  AIRLOCK_IMAGES: names.join('\n'),
});
