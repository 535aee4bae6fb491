/** Media types from the OCI image spec and Docker's image manifest v2 schema 2. */
export const MediaType = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerManifestSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export const INDEX_MEDIA_TYPES: readonly string[] = [MediaType.ociIndex, MediaType.dockerManifestList];
export const MANIFEST_MEDIA_TYPES: readonly string[] = [MediaType.ociManifest, MediaType.dockerManifest];
export const SCHEMA1_MEDIA_TYPES: readonly string[] = [
  MediaType.dockerManifestSchema1,
  MediaType.dockerManifestSchema1Signed,
];

/** What we send in `Accept` when asking a registry for a manifest: everything we can store unchanged. */
export const MANIFEST_ACCEPT = [...INDEX_MEDIA_TYPES, ...MANIFEST_MEDIA_TYPES].join(', ');

export const isIndexMediaType = (mediaType: string | undefined): boolean =>
  mediaType !== undefined && INDEX_MEDIA_TYPES.includes(mediaType);
export const isManifestMediaType = (mediaType: string | undefined): boolean =>
  mediaType !== undefined && MANIFEST_MEDIA_TYPES.includes(mediaType);

/** Annotations that carry names: containerd's import reads the first, OCI tools the second. */
export const Annotation = {
  containerdImageName: 'io.containerd.image.name',
  ociRefName: 'org.opencontainers.image.ref.name',
} as const;
