// `--importer image`: the importer runtime as an OCI image, `airlock/importer:<version>`, written as one of our
// archives (docs/archive-format.md). No Docker, no base image: one layer per platform holding the runtime under
// /opt/airlock and an empty /tmp. Every byte is fixed by the runtime files (owners 0, mtime 0, sorted entries,
// gzip level 6 from Node's zlib), so the same files give the same digest on every run and host.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { Header } from 'tar';
import { z } from 'zod';
import type { ArchiveBlob, ArchiveImage, ArchiveManifest } from '../archive/index.ts';
import { writeImageArchive } from '../archive/index.ts';
import { sha256File } from '../files.ts';
import { type Descriptor, MediaType } from '../oci/index.ts';
import type { AssembledRuntime } from './assemble.ts';
import { loaderCommand, type RuntimePlatform } from './platforms.ts';

export const IMPORTER_IMAGE_REPOSITORY = 'docker.io/airlock/importer';
/** Where the runtime sits in the image (as in importer/Dockerfile's image). */
export const IMAGE_RUNTIME_DIR = '/opt/airlock';
const EPOCH = new Date(0);
const GZIP_LEVEL = 6;

interface LayerEntry {
  path: string;
  mode: number;
  type: 'File' | 'Directory';
  size: number;
  source?: string;
}

const header = (entry: LayerEntry): Buffer => {
  const block = Buffer.alloc(512);
  new Header({
    path: entry.path,
    mode: entry.mode,
    uid: 0,
    gid: 0,
    size: entry.type === 'File' ? entry.size : 0,
    mtime: EPOCH,
    type: entry.type,
    uname: '',
    gname: '',
  }).encode(block, 0);
  return block;
};

async function* layerChunks(entries: readonly LayerEntry[]): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    yield header(entry);
    if (entry.type !== 'File' || !entry.source) continue;
    let received = 0;
    for await (const chunk of createReadStream(entry.source, { highWaterMark: 1 << 20 })) {
      received += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
    if (received !== entry.size)
      throw new Error(`${entry.source}: changed while the image layer was written`);
    const remainder = entry.size % 512;
    if (remainder) yield Buffer.alloc(512 - remainder);
  }
  yield Buffer.alloc(1024);
}

/** Directories first, then files, all sorted: the tar's order never depends on the file system. */
const layerEntries = (
  runtime: AssembledRuntime,
  importerBundle: { path: string; size: number },
): LayerEntry[] => {
  const root = IMAGE_RUNTIME_DIR.slice(1);
  const files: LayerEntry[] = [
    ...runtime.files.map((file) => ({
      path: `${root}/${file.path}`,
      mode: file.mode,
      type: 'File' as const,
      size: file.size,
      source: file.source,
    })),
    {
      path: `${root}/importer.mjs`,
      mode: 0o644,
      type: 'File',
      size: importerBundle.size,
      source: importerBundle.path,
    },
  ];
  const dirs = new Set<string>(['tmp']);
  for (const file of files) {
    for (let dir = dirname(file.path); dir !== '.'; dir = dirname(dir)) dirs.add(dir);
  }
  const directories: LayerEntry[] = [...dirs].map((dir) => ({
    path: `${dir}/`,
    mode: dir === 'tmp' ? 0o1777 : 0o755,
    type: 'Directory',
    size: 0,
  }));
  const byPath = (a: LayerEntry, b: LayerEntry) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  return [...directories.sort(byPath), ...files.sort(byPath)];
};

const hashing = (hash: ReturnType<typeof createHash>, counter: { size: number }) =>
  new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      counter.size += chunk.length;
      done(null, chunk);
    },
  });

/** Writes the gzip'ed layer to `file`; returns its descriptor and diff_id. */
const writeLayer = async (
  entries: readonly LayerEntry[],
  file: string,
): Promise<{ descriptor: Descriptor; diffId: string }> => {
  await mkdir(dirname(file), { recursive: true });
  const diff = createHash('sha256');
  const compressed = createHash('sha256');
  const sizes = { diff: { size: 0 }, compressed: { size: 0 } };
  const partial = `${file}.${randomBytes(4).toString('hex')}.partial`;
  try {
    await pipeline(
      Readable.from(layerChunks(entries)),
      hashing(diff, sizes.diff),
      createGzip({ level: GZIP_LEVEL }),
      hashing(compressed, sizes.compressed),
      createWriteStream(partial),
    );
    await rename(partial, file);
  } finally {
    await rm(partial, { force: true });
  }
  return {
    descriptor: {
      mediaType: MediaType.ociLayerGzip,
      digest: `sha256:${compressed.digest('hex')}`,
      size: sizes.compressed.size,
    },
    diffId: `sha256:${diff.digest('hex')}`,
  };
};

const jsonBlob = (mediaType: string, value: unknown, extra: Partial<Descriptor> = {}): ArchiveBlob => {
  const bytes = Buffer.from(JSON.stringify(value));
  return {
    descriptor: {
      mediaType,
      digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
      size: bytes.length,
      ...extra,
    },
    bytes,
  };
};

const platformManifest = (
  platform: RuntimePlatform,
  version: string,
  layer: { descriptor: Descriptor; diffId: string },
): ArchiveManifest => {
  const config = jsonBlob(MediaType.ociConfig, {
    architecture: platform.architecture,
    os: 'linux',
    config: {
      Entrypoint: loaderCommand(platform, IMAGE_RUNTIME_DIR),
      Env: ['NODE_ENV=production', 'TMPDIR=/tmp'],
      WorkingDir: IMAGE_RUNTIME_DIR,
      Labels: {
        'org.opencontainers.image.title': 'airlock-importer',
        'org.opencontainers.image.version': version,
        'org.opencontainers.image.licenses': 'Apache-2.0',
      },
    },
    rootfs: { type: 'layers', diff_ids: [layer.diffId] },
  });
  const manifest = jsonBlob(
    MediaType.ociManifest,
    {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: config.descriptor,
      layers: [layer.descriptor],
    },
    { platform: { os: 'linux', architecture: platform.architecture } },
  );
  return { descriptor: manifest.descriptor, bytes: manifest.bytes, config, layers: [layer.descriptor] };
};

const CachedLayer = z.object({
  descriptor: z.object({ mediaType: z.string(), digest: z.string(), size: z.number() }),
  diffId: z.string(),
});

/** A layer is compressed once per content: the key is every entry's path and mode and every file's sha256. */
const cachedLayer = async (
  entries: readonly LayerEntry[],
  runtime: AssembledRuntime,
  bundleSha256: string,
  layerDir: string,
): Promise<{ file: string; layer: { descriptor: Descriptor; diffId: string } }> => {
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        entries: entries.map(({ path, mode, type, size }) => [path, mode, type, size]),
        files: runtime.files.map((file) => [file.path, file.sha256]),
        bundleSha256,
        gzip: [GZIP_LEVEL, process.versions.zlib],
      }),
    )
    .digest('hex');
  const file = join(layerDir, `${key}.tar.gz`);
  const recordFile = join(layerDir, `${key}.json`);
  const recorded = await readFile(recordFile, 'utf8').then(
    (text) => CachedLayer.safeParse(JSON.parse(text)),
    () => undefined,
  );
  const size = await stat(file).then(
    (info) => info.size,
    () => -1,
  );
  if (recorded?.success && recorded.data.descriptor.size === size) return { file, layer: recorded.data };
  const layer = await writeLayer(entries, file);
  await writeFile(recordFile, JSON.stringify(layer));
  return { file, layer };
};

export interface WriteImporterImageOptions {
  /** The archive's final path. */
  path: string;
  runtimes: readonly AssembledRuntime[];
  importerBundle: string;
  version: string;
  /** Layers are kept here by content, so an unchanged runtime is not compressed again. */
  layerDir: string;
  compression: 'none' | 'gzip';
}

const withoutPlatform = ({ platform: _platform, ...descriptor }: Descriptor): Descriptor => descriptor;

export const importerImageName = (version: string) => `${IMPORTER_IMAGE_REPOSITORY}:${version}`;

/** Writes `airlock/importer:<version>` for every runtime's platform; a single platform gets a plain manifest. */
export const writeImporterImage = async (options: WriteImporterImageOptions) => {
  const bundleSize = (await stat(options.importerBundle)).size;
  const layerFiles = new Map<string, string>();
  const manifests: ArchiveManifest[] = [];
  const bundleSha256 = await sha256File(options.importerBundle);
  for (const runtime of options.runtimes) {
    const entries = layerEntries(runtime, { path: options.importerBundle, size: bundleSize });
    const { file, layer } = await cachedLayer(entries, runtime, bundleSha256, options.layerDir);
    layerFiles.set(layer.descriptor.digest, file);
    manifests.push(platformManifest(runtime.platform, options.version, layer));
  }
  const name = importerImageName(options.version);
  const target: ArchiveBlob =
    manifests.length === 1 && manifests[0]
      ? { descriptor: withoutPlatform(manifests[0].descriptor), bytes: manifests[0].bytes }
      : jsonBlob(MediaType.ociIndex, {
          schemaVersion: 2,
          mediaType: MediaType.ociIndex,
          manifests: manifests.map((manifest) => manifest.descriptor),
        });
  const image: ArchiveImage = { names: [name], dockerRepoTags: [name], target, manifests };
  const written = await writeImageArchive({
    path: options.path,
    image,
    compression: options.compression,
    gzipLevel: 0,
    openLayer: async (descriptor) => {
      const file = layerFiles.get(descriptor.digest);
      if (!file) throw new Error(`importer image: no layer ${descriptor.digest}`);
      return createReadStream(file);
    },
  });
  return { ...written, image };
};
