import {
  type BuildOptions,
  type BuiltImage,
  buildImage,
  type ImageFormat,
  type PlatformSpec,
} from './image.ts';
import type { LayerCompression, LayerFile, LayerSpec } from './layer.ts';

export interface PresetOptions extends BuildOptions {
  /** Names the image's files and seeds its contents: different names give different digests. */
  name?: string;
}

const KIB = 1024;
const MIB = 1024 * KIB;

/** The small real file tree every image carries: /etc/airlock-factory/<name>.txt. */
const nameFile = (name: string, note: string): LayerFile => ({
  path: `/etc/airlock-factory/${name}.txt`,
  content: `airlock factory image ${name} (${note})\n`,
});

const randomFile = (path: string, seed: string, size: number): LayerFile => ({
  path,
  content: { seed, size },
});

/** Two small gzip layers: the name file plus some data, then an "application" layer. */
const twoLayerPlatform = (name: string, architecture: string, variant?: string): PlatformSpec => {
  const platform = variant ? `${architecture}/${variant}` : architecture;
  return {
    architecture,
    variant,
    layers: [
      {
        files: [
          nameFile(name, platform),
          randomFile(`/usr/share/airlock-factory/${name}/base.bin`, `${name}/${platform}/base`, 64 * KIB),
        ],
      },
      { files: [randomFile(`/opt/airlock-factory/${name}/app.bin`, `${name}/${platform}/app`, 16 * KIB)] },
    ],
    labels: { 'org.opencontainers.image.title': name },
  };
};

/** A single-platform (linux/amd64) Docker v2 schema 2 image with two gzip layers. */
export const dockerImage = (options: PresetOptions = {}): Promise<BuiltImage> => {
  const name = options.name ?? 'docker-image';
  return buildImage({ format: 'docker', platforms: [twoLayerPlatform(name, 'amd64')] }, options);
};

/** A single-platform (linux/amd64) OCI image with two gzip layers. */
export const ociImage = (options: PresetOptions = {}): Promise<BuiltImage> => {
  const name = options.name ?? 'oci-image';
  return buildImage({ format: 'oci', platforms: [twoLayerPlatform(name, 'amd64')] }, options);
};

/** An index (OCI) or manifest list (docker) for linux/amd64 and linux/arm64/v8, each with its own config and layers. */
export const multiArchIndex = (
  options: PresetOptions & { format?: ImageFormat } = {},
): Promise<BuiltImage> => {
  const name = options.name ?? 'multi-arch';
  return buildImage(
    {
      format: options.format ?? 'oci',
      platforms: [twoLayerPlatform(name, 'amd64'), twoLayerPlatform(name, 'arm64', 'v8')],
    },
    options,
  );
};

/** A single-platform OCI image with `layers` (default 12) small gzip layers, each adding its own file. */
export const manyLayersImage = (options: PresetOptions & { layers?: number } = {}): Promise<BuiltImage> => {
  const name = options.name ?? 'many-layers';
  const count = options.layers ?? 12;
  const layers: LayerSpec[] = [{ files: [nameFile(name, `${count} layers`)] }];
  for (let position = 1; position < count; position++) {
    layers.push({
      files: [
        randomFile(`/opt/airlock-factory/${name}/layer-${position}.bin`, `${name}/${position}`, 8 * KIB),
      ],
    });
  }
  return buildImage({ format: 'oci', platforms: [{ architecture: 'amd64', layers }] }, options);
};

export interface LargeLayerOptions extends PresetOptions {
  /** Size of the incompressible file in the large layer; the blob is a little larger (tar headers, gzip framing). */
  bytes: number;
  /**
   * gzip (default) is written at level 0: stored deflate blocks, what any level yields for incompressible data,
   * at ~550 MiB/s instead of ~55 MiB/s for level 1. `none` gives an uncompressed OCI layer.
   */
  compression?: LayerCompression;
  format?: ImageFormat;
}

/**
 * A linux/amd64 image with a small name layer and one large incompressible layer. The large layer depends
 * only on `bytes` and `compression`, so every name shares one cached blob and a second build is instant.
 */
export const largeLayerImage = (options: LargeLayerOptions): Promise<BuiltImage> => {
  const name = options.name ?? 'large-layer';
  const compression = options.compression ?? 'gzip';
  const large: LayerSpec = {
    files: [
      randomFile(`/opt/airlock-factory/large-${options.bytes}.bin`, `large/${options.bytes}`, options.bytes),
    ],
    compression,
    gzipLevel: 0,
  };
  const small: LayerSpec = { files: [nameFile(name, `large layer of ${options.bytes} bytes`)], compression };
  return buildImage(
    { format: options.format ?? 'oci', platforms: [{ architecture: 'amd64', layers: [small, large] }] },
    options,
  );
};

export interface SharedBaseOptions extends PresetOptions {
  /** How many images: named `<name>-1` ... `<name>-<count>`. */
  count: number;
  /** Random bytes in the shared base layer; default 3 MiB. */
  baseBytes?: number;
  /** Random bytes in each image's own layer; default 512 KiB. */
  ownBytes?: number;
  format?: ImageFormat;
}

/** `count` linux/amd64 images that share one base layer (same digest) and each add one small layer of their own. */
export const sharedBaseImages = async (options: SharedBaseOptions): Promise<BuiltImage[]> => {
  const name = options.name ?? 'shared';
  const base: LayerSpec = {
    files: [
      nameFile(`${name}-base`, 'shared base layer'),
      randomFile(`/usr/share/airlock-factory/${name}-base.bin`, `${name}/base`, options.baseBytes ?? 3 * MIB),
    ],
  };
  const images: BuiltImage[] = [];
  for (let position = 1; position <= options.count; position++) {
    const own = `${name}-${position}`;
    const layer: LayerSpec = {
      files: [
        nameFile(own, `image ${position} of ${options.count}`),
        randomFile(`/opt/airlock-factory/${own}.bin`, own, options.ownBytes ?? 512 * KIB),
      ],
    };
    const platform: PlatformSpec = { architecture: 'amd64', layers: [base, layer] };
    images.push(await buildImage({ format: options.format ?? 'oci', platforms: [platform] }, options));
  }
  return images;
};
