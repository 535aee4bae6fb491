import { MediaType } from '../../lib/oci/index.ts';
import { DEFAULT_CACHE_DIR, type StoredBlob, storeBytes } from './blob-store.ts';
import { type BuiltLayer, buildLayer, type LayerCompression, type LayerSpec } from './layer.ts';

/** `docker`: Docker v2 schema 2 manifests / manifest lists; `oci`: OCI manifests / indexes. */
export type ImageFormat = 'docker' | 'oci';

export interface PlatformSpec {
  architecture: string;
  /** Defaults to linux. */
  os?: string;
  variant?: string;
  layers: readonly LayerSpec[];
  /** The config's Cmd; defaults to printing the first file of the first layer. */
  cmd?: readonly string[];
  labels?: Readonly<Record<string, string>>;
}

export interface ImageSpec {
  format: ImageFormat;
  platforms: readonly PlatformSpec[];
  /** Wrap the manifests in an index (manifest list). Always true with more than one platform. */
  index?: boolean;
}

export interface BuildOptions {
  /** Content-addressed blob cache; defaults to node_modules/.cache/airlock/factory. */
  cacheDir?: string;
}

/** A blob of a built image: descriptor fields plus the file holding its bytes. */
export interface ImageBlob extends StoredBlob {
  mediaType: string;
}

export interface ImageLayer extends ImageBlob {
  diffId: string;
}

export interface BuiltPlatformImage {
  platform: { os: string; architecture: string; variant?: string };
  manifest: ImageBlob;
  config: ImageBlob;
  layers: ImageLayer[];
}

export interface BuiltImage {
  format: ImageFormat;
  /** The top-level document: an index/manifest list, or the single manifest. */
  mediaType: string;
  digest: string;
  size: number;
  path: string;
  platforms: BuiltPlatformImage[];
  /** Every blob once, in push order: layers, configs, platform manifests, then the index if any. */
  blobs: ImageBlob[];
}

const MEDIA_TYPES = {
  docker: {
    index: MediaType.dockerManifestList,
    manifest: MediaType.dockerManifest,
    config: MediaType.dockerConfig,
    layer: { gzip: MediaType.dockerLayerGzip, none: undefined },
  },
  oci: {
    index: MediaType.ociIndex,
    manifest: MediaType.ociManifest,
    config: MediaType.ociConfig,
    layer: { gzip: MediaType.ociLayerGzip, none: MediaType.ociLayer },
  },
} as const;

const CREATED = '2024-01-01T00:00:00Z';

const layerMediaType = (format: ImageFormat, compression: LayerCompression): string => {
  const mediaType = MEDIA_TYPES[format].layer[compression];
  if (mediaType === undefined) throw new Error(`factory: ${format} images carry gzip layers only`);
  return mediaType;
};

const descriptor = ({ mediaType, digest, size }: ImageBlob) => ({ mediaType, digest, size });

const json = (document: unknown): Buffer => Buffer.from(JSON.stringify(document));

const defaultCmd = (spec: PlatformSpec): string[] => {
  const firstFile = spec.layers[0]?.files[0]?.path ?? '/';
  return ['/bin/cat', firstFile];
};

const buildPlatform = async (
  cacheDir: string,
  format: ImageFormat,
  spec: PlatformSpec,
): Promise<BuiltPlatformImage> => {
  const types = MEDIA_TYPES[format];
  const built: BuiltLayer[] = [];
  // One after another: a large layer already saturates the machine, and small ones take milliseconds.
  for (const layer of spec.layers) built.push(await buildLayer(cacheDir, layer));
  const layers = built.map(({ compression, ...layer }) => ({
    ...layer,
    mediaType: layerMediaType(format, compression),
  }));
  const platform = {
    os: spec.os ?? 'linux',
    architecture: spec.architecture,
    ...(spec.variant ? { variant: spec.variant } : {}),
  };
  const config = {
    ...platform,
    created: CREATED,
    config: {
      Cmd: spec.cmd ?? defaultCmd(spec),
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      ...(spec.labels ? { Labels: spec.labels } : {}),
    },
    rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
    history: layers.map((_, position) => ({
      created: CREATED,
      created_by: `airlock factory layer ${position}`,
    })),
  };
  const configBlob = { ...(await storeBytes(cacheDir, json(config))), mediaType: types.config };
  const manifest = {
    schemaVersion: 2,
    mediaType: types.manifest,
    config: descriptor(configBlob),
    layers: layers.map(descriptor),
  };
  const manifestBlob = { ...(await storeBytes(cacheDir, json(manifest))), mediaType: types.manifest };
  return {
    platform,
    manifest: manifestBlob,
    config: configBlob,
    layers,
  };
};

const uniqueBlobs = (blobs: readonly ImageBlob[]): ImageBlob[] => {
  const seen = new Map<string, ImageBlob>();
  for (const blob of blobs) if (!seen.has(blob.digest)) seen.set(blob.digest, blob);
  return [...seen.values()];
};

/** Builds an image from its spec: every blob lands in the cache directory, the result describes them all. */
export const buildImage = async (spec: ImageSpec, options: BuildOptions = {}): Promise<BuiltImage> => {
  const cacheDir = options.cacheDir ?? DEFAULT_CACHE_DIR;
  if (spec.platforms.length === 0) throw new Error('factory: an image needs at least one platform');
  const platforms: BuiltPlatformImage[] = [];
  for (const platform of spec.platforms) platforms.push(await buildPlatform(cacheDir, spec.format, platform));
  const contents = uniqueBlobs([
    ...platforms.flatMap((platform) => platform.layers),
    ...platforms.map((platform) => platform.config),
    ...platforms.map((platform) => platform.manifest),
  ]);
  const [single] = platforms;
  if (single && platforms.length === 1 && !spec.index) {
    return { format: spec.format, ...single.manifest, platforms, blobs: contents };
  }
  const mediaType = MEDIA_TYPES[spec.format].index;
  const index = {
    schemaVersion: 2,
    mediaType,
    manifests: platforms.map(({ manifest, platform }) => ({ ...descriptor(manifest), platform })),
  };
  const indexBlob = { ...(await storeBytes(cacheDir, json(index))), mediaType };
  return { format: spec.format, ...indexBlob, platforms, blobs: [...contents, indexBlob] };
};
