import { z } from 'zod';
import { describeErrorFor } from '../errors.ts';
import type { Logger } from '../report/log.ts';
import { type RetryPolicy, withRetries } from '../retry.ts';
import type { Authenticator } from './auth.ts';
import { NotFoundError, RegistryProtocolError } from './errors.ts';
import type { Endpoint } from './hosts.ts';
import { parseRetryAfter, RetryableStatusError } from './retry.ts';
import { discard, type HttpResponse, headerValue, readSmallBody, type Transport } from './transport.ts';

/** Everything a manifest or blob fetch needs, built once per client. */
export interface RegistryContext {
  transport: Transport;
  auth: Authenticator;
  retry: RetryPolicy;
  stallTimeoutMs: number;
  logger: Logger;
  endpointsFor(registry: string): Endpoint[];
}

export interface RegistryRequest {
  endpoint: Endpoint;
  /** Repository path, e.g. `library/nginx`. */
  repository: string;
  /** After `/v2/<repository>`: `/manifests/1.25`, `/blobs/sha256:...`. */
  resource: string;
  /** What the messages name: `docker.io/library/nginx:1.25`. */
  subject: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** The message for a 404, given the registry's error code (`MANIFEST_UNKNOWN`, `NAME_UNKNOWN`, ...). */
  /** Why the resource is missing, without the subject (the error carries it). */
  notFound(registryCode: string | undefined): string;
}

const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Distribution's error document: `{"errors":[{"code":"MANIFEST_UNKNOWN","message":...}]}`; fields it lacks stay unset. */
const RegistryErrorDocument = z.looseObject({
  errors: z
    .array(
      z.looseObject({
        code: z.string().optional().catch(undefined),
        message: z.string().optional().catch(undefined),
      }),
    )
    .optional(),
});

/** The first entry of an error body the registry sent, or nothing when the body is not such a document. */
export const registryErrorOf = (body: Buffer | undefined): { code?: string; message?: string } => {
  if (!body) return {};
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return {};
  }
  const parsed = RegistryErrorDocument.safeParse(json);
  const first = parsed.success ? parsed.data.errors?.[0] : undefined;
  return { code: first?.code, message: first?.message };
};

/**
 * One authenticated GET: anonymous first, then whatever the 401 challenge asks for; redirects followed by hand so
 * that Authorization never leaves the registry's origin (object storage gets a pre-signed URL, not our token).
 * Resolves with a 2xx response; 429/5xx throw a retryable error, everything else a typed error.
 */
export const registryGet = async (
  context: RegistryContext,
  request: RegistryRequest,
): Promise<HttpResponse> => {
  const { endpoint, repository, subject, signal } = request;
  const url = new URL(`${endpoint.origin}/v2/${repository}${request.resource}`);
  const send = (target: URL, authorization: string | undefined) =>
    context.transport.send(target, {
      headers: { ...request.headers, ...(authorization ? { authorization } : {}) },
      signal,
    });

  let authorization = await context.auth.headerFor(endpoint, repository, subject, signal);
  let response = await send(url, authorization);
  if (response.status === 401) {
    const challenge = headerValue(response, 'www-authenticate');
    await discard(response);
    authorization = await context.auth.answerChallenge(endpoint, repository, challenge, subject, signal);
    response = await send(url, authorization);
  }
  if (response.status === 401 || response.status === 403) {
    await discard(response);
    throw await context.auth.denied(endpoint, subject, response.status);
  }

  let current = url;
  for (let hops = 0; REDIRECTS.has(response.status); hops += 1) {
    const location = headerValue(response, 'location');
    await discard(response);
    if (!location || hops >= MAX_REDIRECTS) {
      throw new RegistryProtocolError(
        `${current.host} redirected ${location ? `more than ${MAX_REDIRECTS} times` : 'without a Location'}`,
        { subject },
      );
    }
    current = new URL(location, current);
    context.logger.debug(`${subject}: redirected to ${current.origin}${current.pathname}`);
    response = await send(current, current.origin === url.origin ? authorization : undefined);
  }

  context.logger.debug(`${subject}: GET ${current.origin}${current.pathname}: HTTP ${response.status}`);
  if (response.status >= 200 && response.status < 300) return { ...response, url: current };

  const body = await readSmallBody(response, 64 * 1024, context.stallTimeoutMs).catch(() => undefined);
  const registryError = registryErrorOf(body);
  // An empty body says nothing the status does not: leave it out rather than print "HTTP 503: HTTP 503".
  const said = registryError.message ?? registryError.code;
  const detail = said ? `: ${said}` : '';
  if (response.status === 429 || response.status >= 500) {
    const hint = response.status === 429 ? ' (rate limited: wait, or log in for a higher limit)' : '';
    throw new RetryableStatusError(
      current.host,
      response.status,
      `${current.host} answered HTTP ${response.status}${hint}${detail}`,
      parseRetryAfter(headerValue(response, 'retry-after')),
      { subject },
    );
  }
  if (response.status === 404) throw new NotFoundError(request.notFound(registryError.code), { subject });
  throw new RegistryProtocolError(`${current.host} answered HTTP ${response.status}${detail}`, { subject });
};

/**
 * Tries each endpoint of a registry in order (mirrors first), each with retries, and returns the first success.
 * A failing mirror is logged and skipped; the registry's own error is the one that surfaces.
 */
export const fromAnyEndpoint = async <T>(
  context: RegistryContext,
  registry: string,
  subject: string,
  attempt: (endpoint: Endpoint) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> => {
  const endpoints = context.endpointsFor(registry);
  let lastError: unknown;
  for (const endpoint of endpoints) {
    // A mirror gets one retry at most: the registry behind it is the better second chance.
    const policy = endpoint.mirror
      ? { ...context.retry, retries: Math.min(1, context.retry.retries) }
      : context.retry;
    try {
      return await withRetries(() => attempt(endpoint), { ...policy, label: subject, signal });
    } catch (error) {
      if (!endpoint.mirror || signal?.aborted) throw error;
      lastError = error;
      context.logger.warn(
        `${subject}: mirror ${endpoint.host} failed: ${describeErrorFor(subject, error)} — trying the next`,
      );
    }
  }
  throw lastError;
};
