import type { Readable } from 'node:stream';
import { DigestMismatchError } from '../errors.ts';
import type { Descriptor } from '../oci/index.ts';
import { digestOf, MANIFEST_ACCEPT } from '../oci/index.ts';
import { parseReference } from '../reference/index.ts';
import { withRetries } from '../retry.ts';
import { createRegistryContext, type RegistryContextOptions } from './client.ts';
import { RegistryProtocolError } from './errors.ts';
import type { Endpoint } from './hosts.ts';
import { type FetchedManifest, fetchManifest } from './manifest.ts';
import { discard, type HttpResponse, headerValue } from './transport.ts';
import {
  resolveLocation,
  type UploadContext,
  type UploadExchange,
  uploadExchange,
} from './upload-request.ts';

/** Where one blob's bytes come from: reopened from `start` for every attempt and every chunk. */
export interface BlobSource {
  size: number;
  open(start: number, end: number): Readable;
}

export interface UploadOptions {
  signal?: AbortSignal;
  /** Bytes sent so far, for progress; may go backwards by a chunk when an attempt is retried. */
  onBytes?: (bytes: number) => void;
}

export interface RegistryUploaderOptions
  extends Partial<
    Pick<
      RegistryContextOptions,
      'credentials' | 'ca' | 'trustedTokenRealms' | 'retries' | 'retryDelayMs' | 'stallTimeoutMs' | 'logger'
    >
  > {
  /** `host[:port]` of the registry pushed to. */
  registry: string;
  /** Speak plain HTTP to the registry (loopback always is). */
  insecure?: boolean;
  /** Upload in chunks of this many bytes even when the registry does not ask for chunks. */
  chunkBytes?: number;
}

export interface RegistryUploader {
  readonly registry: string;
  /** HEAD of a blob: true when `repository` already serves it. */
  hasBlob(repository: string, digest: string, signal?: AbortSignal): Promise<boolean>;
  /** Cross-repository mount; false when the registry would rather have the bytes (it then gets them by upload). */
  mountBlob(repository: string, digest: string, from: string, signal?: AbortSignal): Promise<boolean>;
  /** Uploads a blob, monolithic or in chunks as the registry asks; the registry checks the digest. */
  uploadBlob(
    repository: string,
    descriptor: Descriptor,
    source: BlobSource,
    options?: UploadOptions,
  ): Promise<void>;
  /** The digest `reference` (tag or digest) points at, or undefined when the registry has no such manifest. */
  manifestDigest(repository: string, reference: string, signal?: AbortSignal): Promise<string | undefined>;
  /** PUTs the manifest bytes unchanged under a tag or their digest. */
  putManifest(
    repository: string,
    reference: string,
    manifest: { mediaType: string; bytes: Buffer },
    signal?: AbortSignal,
  ): Promise<void>;
  /** GETs a manifest by digest and verifies its bytes (the read-back after a push). */
  readManifest(repository: string, digest: string): Promise<FetchedManifest>;
  close(): Promise<void>;
}

/** Chunk size when the registry asks for chunks without saying how large: big enough to keep requests few. */
const DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024;

/** OCI distribution spec: a registry that wants chunks says how small they may be. */
const chunkMinimum = (headers: { headers: Record<string, string | string[] | undefined> }) => {
  const value = Number(headerValue(headers, 'oci-chunk-min-length'));
  return Number.isInteger(value) && value > 0 ? value : undefined;
};

const createUploadContext = (options: RegistryUploaderOptions): UploadContext => ({
  ...createRegistryContext({
    ...options,
    scopeActions: 'pull,push',
    insecureRegistries: options.insecure ? [options.registry] : [],
  }),
  // No mirrors are given: a push goes to the registry itself, mirrors serve pulls only.
});

const signalOf = (signal: AbortSignal | undefined) => (signal ? { signal } : {});

/** The upload protocol against one registry, one method per step; retries and auth live in the steps. */
class Uploader implements RegistryUploader {
  readonly registry: string;
  readonly #context: UploadContext;
  readonly #endpoint: Endpoint;
  readonly #chunkBytes: number | undefined;

  constructor(options: RegistryUploaderOptions) {
    this.registry = options.registry;
    this.#context = createUploadContext(options);
    this.#endpoint = this.#context.endpointsFor(options.registry)[0]!;
    this.#chunkBytes = options.chunkBytes;
  }

  #name(repository: string, reference?: string): string {
    if (!reference) return `${this.registry}/${repository}`;
    return `${this.registry}/${repository}${reference.includes(':') ? '@' : ':'}${reference}`;
  }

  #retried<T>(subject: string, attempt: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return withRetries(attempt, { ...this.#context.retry, label: subject, signal });
  }

  /** One exchange whose body (if any) is read to the end and dropped: every answer here is in its headers. */
  async #send(exchange: Omit<UploadExchange, 'endpoint'>): Promise<HttpResponse> {
    const response = await uploadExchange(this.#context, { ...exchange, endpoint: this.#endpoint });
    await discard(response);
    return response;
  }

  /** `#send`, retried as a whole, its answer turned into the result by `read`. */
  #call<T>(
    exchange: Omit<UploadExchange, 'endpoint' | 'signal'>,
    read: (response: HttpResponse) => T,
    signal?: AbortSignal,
  ): Promise<T> {
    return this.#retried(
      exchange.subject,
      async () => read(await this.#send({ ...exchange, ...signalOf(signal) })),
      signal,
    );
  }

  hasBlob(repository: string, digest: string, signal?: AbortSignal): Promise<boolean> {
    const exchange = { repository, subject: this.#name(repository, digest), method: 'HEAD' } as const;
    return this.#call(
      { ...exchange, target: `/blobs/${digest}`, accept: [200, 404, 307, 302] },
      // A redirect to object storage means the registry has the blob.
      (response) => response.status !== 404,
      signal,
    );
  }

  /** POST /blobs/uploads/: 201 when a mount succeeded, else the session's Location and chunk wish. */
  async #startUpload(
    repository: string,
    subject: string,
    query: string,
    signal?: AbortSignal,
    from?: string,
  ) {
    const response = await this.#send({
      repository,
      method: 'POST',
      target: `/blobs/uploads/${query}`,
      subject,
      ...(from ? { mountFrom: from } : {}),
      headers: { 'content-length': '0' },
      accept: [201, 202],
      ...signalOf(signal),
    });
    const location = headerValue(response, 'location');
    if (response.status === 202 && !location) {
      throw new RegistryProtocolError(
        `${subject}: ${this.#endpoint.host} opened an upload without a Location`,
      );
    }
    return {
      mounted: response.status === 201,
      location: location ?? '',
      chunkMinimum: chunkMinimum(response),
    };
  }

  mountBlob(repository: string, digest: string, from: string, signal?: AbortSignal): Promise<boolean> {
    const subject = this.#name(repository, digest);
    const query = `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
    // A declined mount leaves an open session; the registry purges it, and the upload opens its own.
    return this.#retried(
      subject,
      async () => (await this.#startUpload(repository, subject, query, signal, from)).mounted,
      signal,
    );
  }

  /** PATCHes the blob in chunks with Content-Range; returns the Location to finish at. */
  async #sendChunks(
    repository: string,
    subject: string,
    source: BlobSource,
    session: { location: string; chunkBytes: number },
    options: UploadOptions,
  ): Promise<string> {
    let { location } = session;
    for (let start = 0; start < source.size; start += session.chunkBytes) {
      const end = Math.min(source.size, start + session.chunkBytes);
      const response = await this.#send({
        repository,
        method: 'PATCH',
        target: location,
        subject,
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(end - start),
          'content-range': `${start}-${end - 1}`,
        },
        body: () => source.open(start, end),
        accept: [202],
        ...signalOf(options.signal),
      });
      location = headerValue(response, 'location') ?? location;
      options.onBytes?.(end - start);
    }
    return location;
  }

  async #uploadOnce(repository: string, descriptor: Descriptor, source: BlobSource, options: UploadOptions) {
    const subject = this.#name(repository, descriptor.digest);
    const session = await this.#startUpload(repository, subject, '', options.signal);
    if (session.mounted) return;
    // The registry's minimum wins over ours; without either, one PUT carries the whole blob.
    const chunkBytes = session.chunkMinimum
      ? Math.max(session.chunkMinimum, this.#chunkBytes ?? DEFAULT_CHUNK_BYTES)
      : this.#chunkBytes;
    const monolithic = chunkBytes === undefined || chunkBytes >= source.size;
    const location = monolithic
      ? session.location
      : await this.#sendChunks(
          repository,
          subject,
          source,
          { location: session.location, chunkBytes },
          options,
        );
    const url = resolveLocation(this.#endpoint, location);
    url.searchParams.set('digest', descriptor.digest);
    const response = await this.#send({
      repository,
      method: 'PUT',
      target: url.toString(),
      subject,
      headers: monolithic
        ? { 'content-type': 'application/octet-stream', 'content-length': String(source.size) }
        : { 'content-length': '0' },
      ...(monolithic ? { body: () => source.open(0, source.size) } : {}),
      accept: [201, 204],
      ...signalOf(options.signal),
    });
    if (monolithic) options.onBytes?.(source.size);
    const stored = headerValue(response, 'docker-content-digest');
    if (stored && stored !== descriptor.digest) {
      throw new DigestMismatchError(
        `${subject}: ${this.#endpoint.host} stored the blob as ${stored} — the archive's bytes changed or a proxy altered them`,
        descriptor.digest,
        stored,
      );
    }
  }

  uploadBlob(repository: string, descriptor: Descriptor, source: BlobSource, options: UploadOptions = {}) {
    let attempt = 0;
    return this.#retried(
      this.#name(repository, descriptor.digest),
      async () => {
        attempt += 1;
        // After a failed attempt the bytes may have arrived whole (a reset after the registry committed them).
        if (attempt > 1 && (await this.hasBlob(repository, descriptor.digest, options.signal))) return;
        try {
          await this.#uploadOnce(repository, descriptor, source, options);
        } catch (error) {
          // Another pusher (a second run, a CI job) committing the same blob into the same repository at the same
          // time: Nexus refuses the later commit (BLOB_UPLOAD_INVALID "cannot be updated"), Distribution takes
          // both. The registry stores a blob only under the digest it verified, so the blob being there is success.
          // One run never sends a blob twice at once (lib/push/blobs.ts, putBlob).
          if (!(error instanceof RegistryProtocolError)) throw error;
          if (await this.hasBlob(repository, descriptor.digest, options.signal).catch(() => false)) return;
          throw error;
        }
      },
      options.signal,
    );
  }

  manifestDigest(repository: string, reference: string, signal?: AbortSignal): Promise<string | undefined> {
    const exchange = { repository, subject: this.#name(repository, reference), method: 'HEAD' } as const;
    return this.#call(
      {
        ...exchange,
        target: `/manifests/${reference}`,
        headers: { accept: MANIFEST_ACCEPT },
        accept: [200, 404],
      },
      (response) =>
        response.status === 404 ? undefined : (headerValue(response, 'docker-content-digest') ?? ''),
      signal,
    );
  }

  putManifest(
    repository: string,
    reference: string,
    manifest: { mediaType: string; bytes: Buffer },
    signal?: AbortSignal,
  ): Promise<void> {
    const subject = this.#name(repository, reference);
    const digest = digestOf(manifest.bytes);
    const headers = { 'content-type': manifest.mediaType, 'content-length': String(manifest.bytes.length) };
    return this.#call(
      {
        ...{ repository, subject, method: 'PUT', target: `/manifests/${reference}`, headers },
        body: () => manifest.bytes,
        accept: [201, 200, 204],
      },
      (response) => {
        const stored = headerValue(response, 'docker-content-digest');
        if (!stored || stored === digest) return;
        throw new DigestMismatchError(
          `${subject}: ${this.#endpoint.host} stored the manifest as ${stored}, not ${digest} — it rewrote the manifest; digest references would not resolve`,
          digest,
          stored,
        );
      },
      signal,
    );
  }

  readManifest(repository: string, digest: string): Promise<FetchedManifest> {
    return fetchManifest(this.#context, parseReference(this.#name(repository)), digest);
  }

  close(): Promise<void> {
    return this.#context.transport.close();
  }
}

export const createRegistryUploader = (options: RegistryUploaderOptions): RegistryUploader =>
  new Uploader(options);

export { RegistryFullError } from './upload-request.ts';
