import { DigestMismatchError } from '../errors.ts';
import {
  type Descriptor,
  digestAlgorithm,
  digestOf,
  ImageIndex,
  ImageManifest,
  isIndexMediaType,
  isManifestMediaType,
  isSupportedAlgorithm,
  MANIFEST_ACCEPT,
  MediaType,
  SCHEMA1_MEDIA_TYPES,
} from '../oci/index.ts';
import { formatReference, type ImageReference, repositoryName, withDefaultTag } from '../reference/index.ts';
import { RegistryProtocolError } from './errors.ts';
import { fromAnyEndpoint, type RegistryContext, registryGet } from './request.ts';
import { abandon, headerValue, readSmallBody } from './transport.ts';

export interface FetchedManifest {
  descriptor: Descriptor;
  /** Exactly the registry's bytes: their digest is the image's identity, so they are stored unchanged. */
  bytes: Buffer;
  parsed: ImageManifest | ImageIndex;
}

/** Manifests are small; anything bigger is not a manifest we should hold in memory. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** `sha256:<hex>` of some bytes, with the algorithm of `like` (sha256 unless it names another). */
const digestLike = (bytes: Buffer, like?: string): string => {
  const algorithm = like ? digestAlgorithm(like) : 'sha256';
  if (!isSupportedAlgorithm(algorithm))
    throw new RegistryProtocolError(`digest algorithm ${JSON.stringify(algorithm)} is not supported`);
  return digestOf(bytes, algorithm);
};

const schema1Error = (subject: string) =>
  new RegistryProtocolError(
    `Docker schema 1 manifest is not supported (deprecated since 2017) — re-push with a current Docker/Buildah/crane`,
    { subject },
  );

/** Content-Type decides (registries set it from what was pushed); the JSON's own mediaType is the fallback. */
const mediaTypeOf = (contentType: string | undefined, json: Record<string, unknown>): string => {
  const fromHeader = contentType?.split(';')[0]?.trim();
  const known = (type: string | undefined) =>
    type !== undefined &&
    (isIndexMediaType(type) || isManifestMediaType(type) || SCHEMA1_MEDIA_TYPES.includes(type));
  if (known(fromHeader)) return fromHeader!;
  if (typeof json.mediaType === 'string' && known(json.mediaType)) return json.mediaType;
  if (json.schemaVersion === 1) return MediaType.dockerManifestSchema1;
  // An OCI document may omit mediaType; its shape says which one it is.
  return Array.isArray(json.manifests) ? MediaType.ociIndex : MediaType.ociManifest;
};

/** GETs a manifest by digest (when given, or pinned in the reference) or by tag, and verifies its bytes. */
export const fetchManifest = async (
  context: RegistryContext,
  reference: ImageReference,
  digest?: string,
): Promise<FetchedManifest> => {
  const expected = digest ?? reference.digest;
  const tagged = withDefaultTag(reference);
  const target = expected ?? tagged.tag!;
  const repository = repositoryName(reference);
  const subject = digest ? `${repository}@${digest}` : formatReference(tagged);

  const notFound = (code: string | undefined) => {
    if (code === 'NAME_UNKNOWN') {
      return `repository unknown — ${repository} does not exist on ${reference.domain} (check the name, or 'docker login ${reference.domain}' if it is private)`;
    }
    return expected
      ? `manifest unknown — ${repository} has no manifest ${expected}`
      : `manifest unknown — tag '${target}' does not exist in ${repository}`;
  };

  return fromAnyEndpoint(context, reference.domain, subject, async (endpoint) => {
    const response = await registryGet(context, {
      endpoint,
      repository: reference.path,
      resource: `/manifests/${target}`,
      subject,
      headers: { accept: MANIFEST_ACCEPT },
      notFound,
    });
    const tooLarge = new RegistryProtocolError(
      `manifest larger than ${MAX_MANIFEST_BYTES / 1024 / 1024} MiB — this is not an image manifest airlock can use`,
      { subject },
    );
    if (Number(headerValue(response, 'content-length') ?? 0) > MAX_MANIFEST_BYTES) {
      abandon(response);
      throw tooLarge;
    }
    const bytes = await readSmallBody(response, MAX_MANIFEST_BYTES, context.stallTimeoutMs);
    if (!bytes) throw tooLarge;

    const actual = digestLike(bytes, expected);
    const announced = headerValue(response, 'docker-content-digest');
    const pinned = expected ?? (announced?.startsWith('sha256:') ? announced : undefined);
    if (pinned && pinned !== actual) {
      const what = expected ? 'the requested digest' : `the registry's Docker-Content-Digest ${announced}`;
      throw new DigestMismatchError(
        `manifest from ${endpoint.host} hashes to ${actual}, not ${what} — the registry or a proxy altered it; retry, or report it to the registry operator`,
        pinned,
        actual,
        { subject },
      );
    }

    let json: Record<string, unknown>;
    try {
      json = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new RegistryProtocolError(`the manifest from ${endpoint.host} is not JSON`, {
        subject,
        cause: error,
      });
    }
    const mediaType = mediaTypeOf(headerValue(response, 'content-type'), json);
    if (SCHEMA1_MEDIA_TYPES.includes(mediaType)) throw schema1Error(subject);

    const schema = isIndexMediaType(mediaType) ? ImageIndex : ImageManifest;
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new RegistryProtocolError(
        `the ${isIndexMediaType(mediaType) ? 'index' : 'manifest'} from ${endpoint.host} is not valid (${parsed.error.issues[0]?.message ?? 'schema'})`,
        { subject, cause: parsed.error },
      );
    }
    return { descriptor: { mediaType, digest: actual, size: bytes.length }, bytes, parsed: parsed.data };
  });
};
