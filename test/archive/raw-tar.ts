import { createHash } from 'node:crypto';
import { Header, type HeaderData, Pax } from 'tar';

/** Hand-made tar streams, including the hostile ones no well-behaved tool writes. */
export interface RawEntry {
  path: string;
  type?: HeaderData['type'];
  body?: string | Buffer;
  linkpath?: string;
  /** Header size when it should differ from the body (a lying header). */
  size?: number;
}

export const rawTar = (entries: RawEntry[], options: { end?: boolean } = {}): Buffer => {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = entry.body === undefined ? Buffer.alloc(0) : Buffer.from(entry.body);
    const header = Buffer.alloc(512);
    new Header({
      path: entry.path,
      type: entry.type ?? 'File',
      size: entry.size ?? body.length,
      mode: 0o644,
      mtime: new Date(0),
      ...(entry.linkpath ? { linkpath: entry.linkpath } : {}),
    }).encode(header, 0);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  if (options.end !== false) blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
};

export const sha256Hex = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

/** A minimal valid OCI layout (one manifest, one config, no layers) plus extra entries. */
export const minimalLayout = (extra: RawEntry[] = []): RawEntry[] => {
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [] },
  });
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: `sha256:${sha256Hex(config)}`,
      size: config.length,
    },
    layers: [],
  });
  const index = JSON.stringify({
    schemaVersion: 2,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: `sha256:${sha256Hex(manifest)}`,
        size: manifest.length,
        annotations: { 'io.containerd.image.name': 'docker.io/library/minimal:1' },
      },
    ],
  });
  return [
    { path: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' },
    { path: 'index.json', body: index },
    ...extra,
    { path: `blobs/sha256/${sha256Hex(manifest)}`, body: manifest },
    { path: `blobs/sha256/${sha256Hex(config)}`, body: config },
  ];
};

/** One PAX extended-header record (`x`), or a global one (`g`), as raw tar blocks. */
export const paxRecord = (fields: Record<string, string>, global = false): Buffer =>
  new Pax(fields, global).encode();

/**
 * A ustar header whose name is split into the prefix and name fields (`<prefix>/<name>`), for the entry that
 * follows a PAX path record: Go ignores the prefix then, node-tar may not.
 */
export const prefixedHeader = (prefix: string, name: string, body: Buffer): Buffer[] => {
  const header = Buffer.alloc(512);
  new Header({
    path: `${prefix}/${name}`,
    type: 'File',
    size: body.length,
    mode: 0o644,
    mtime: new Date(0),
  }).encode(header, 0);
  return [header, body, Buffer.alloc((512 - (body.length % 512)) % 512)];
};
