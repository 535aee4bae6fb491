import type { Readable } from 'node:stream';
import type { Descriptor } from '../oci/index.ts';
import type { ImageReference } from '../reference/index.ts';
import { type Logger, silentLogger } from '../report/log.ts';
import { createAuthenticator } from './auth.ts';
import { openBlobStream } from './blob.ts';
import { type CredentialStore, createDockerConfigCredentials } from './credentials.ts';
import { endpointsFor } from './hosts.ts';
import { type FetchedManifest, fetchManifest } from './manifest.ts';
import type { RegistryContext } from './request.ts';
import { createTransport } from './transport.ts';

export interface RegistryClientOptions {
  /** Default: the Docker config ($DOCKER_CONFIG/config.json or ~/.docker/config.json), read on first need. */
  credentials?: CredentialStore;
  /** Hosts spoken to over plain HTTP. Loopback (127.0.0.0/8, ::1, localhost) always is. */
  insecureRegistries?: string[];
  /** Token realm hosts that may receive credentials besides the registry's own host (config trusted_token_realms). */
  trustedTokenRealms?: string[];
  /** Registry host -> mirror hosts tried first, in order (containerd hosts.toml, dockerd registry-mirrors). */
  mirrors?: Record<string, string[]>;
  /** Retries after 429, 5xx, connection resets and stalls. Default 4. */
  retries?: number;
  /** No bytes for this long aborts the attempt (and retries). Default 30000. */
  stallTimeoutMs?: number;
  /** First backoff between retries, doubled per attempt with jitter; Retry-After wins. Default 250. */
  retryDelayMs?: number;
  logger?: Logger;
  userAgent?: string;
}

export interface RegistryClient {
  /**
   * GETs the manifest for ref (by `digest` when given, else ref.digest, else its tag or `latest`) and verifies
   * its sha256. Schema 1 manifests are refused with code UNSUPPORTED.
   */
  getManifest(ref: ImageReference, digest?: string): Promise<FetchedManifest>;
  /** Streams a blob of `repository`, verifying size and digest while it flows (see openBlobStream). */
  openBlob(
    repository: ImageReference,
    descriptor: Descriptor,
    options?: { signal?: AbortSignal },
  ): Promise<Readable>;
  /** Closes pooled connections. */
  close(): Promise<void>;
}

export const DEFAULT_USER_AGENT = 'airlock/0.1';

export interface RegistryContextOptions extends RegistryClientOptions {
  /** PEM text of extra trusted CA certificates. */
  ca?: string;
  /** Token scope actions: `pull` (default), `pull,push` for the push. */
  scopeActions?: string;
}

/** Transport, auth, retries and endpoints with their defaults, for the client and the uploader alike. */
export const createRegistryContext = (options: RegistryContextOptions = {}): RegistryContext => {
  const logger = options.logger ?? silentLogger;
  const stallTimeoutMs = options.stallTimeoutMs ?? 30_000;
  const transport = createTransport({
    userAgent: options.userAgent ?? DEFAULT_USER_AGENT,
    stallTimeoutMs,
    ...(options.ca ? { ca: options.ca } : {}),
  });
  return {
    transport,
    auth: createAuthenticator({
      credentials: options.credentials ?? createDockerConfigCredentials(),
      trustedTokenRealms: options.trustedTokenRealms ?? [],
      transport,
      stallTimeoutMs,
      logger,
      ...(options.scopeActions ? { scopeActions: options.scopeActions } : {}),
    }),
    retry: {
      retries: options.retries ?? 4,
      logger,
      baseDelayMs: options.retryDelayMs ?? 250,
      maxDelayMs: 30_000,
    },
    stallTimeoutMs,
    logger,
    endpointsFor: (registry) =>
      endpointsFor(registry, { insecureRegistries: options.insecureRegistries, mirrors: options.mirrors }),
  };
};

export const createRegistryClient = (options: RegistryClientOptions = {}): RegistryClient => {
  const context = createRegistryContext(options);
  return {
    getManifest: (ref, digest) => fetchManifest(context, ref, digest),
    openBlob: (repository, descriptor, blobOptions) =>
      openBlobStream(context, repository, descriptor, blobOptions),
    close: () => context.transport.close(),
  };
};
