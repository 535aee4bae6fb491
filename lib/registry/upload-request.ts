import type { Readable } from 'node:stream';
import { AirlockError } from '../errors.ts';
import { NotFoundError, RegistryProtocolError } from './errors.ts';
import type { Endpoint } from './hosts.ts';
import { type RegistryContext, registryErrorOf } from './request.ts';
import { parseRetryAfter, RetryableStatusError } from './retry.ts';
import { discard, type HttpResponse, headerValue, readSmallBody, type Transport } from './transport.ts';

/** The registry has no room left (HTTP 507 Insufficient Storage, or 413 for a blob over its quota). */
export class RegistryFullError extends AirlockError {
  readonly host: string;

  constructor(host: string, message: string, options?: ErrorOptions) {
    super('DISK_FULL', message, options);
    this.name = 'RegistryFullError';
    this.host = host;
  }
}

export interface UploadContext extends RegistryContext {
  transport: Transport;
}

export interface UploadExchange {
  endpoint: Endpoint;
  repository: string;
  method: 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'GET';
  /** A path after `/v2/<repository>`, or an absolute or origin-relative upload Location. */
  target: string;
  subject: string;
  headers?: Record<string, string>;
  /** Called once per attempt, so a body can be sent again after an auth challenge. */
  body?: () => string | Buffer | Readable;
  signal?: AbortSignal;
  /** A cross-repository mount's source: its token must allow pulling from there too. */
  mountFrom?: string;
  /** Statuses the caller handles itself (404 for a HEAD, 201/202 for an upload). Others become errors. */
  accept: readonly number[];
}

/** `/blobs/uploads/<uuid>?_state=...` as Distribution answers, or a full URL, resolved against the endpoint. */
export const resolveLocation = (endpoint: Endpoint, location: string): URL =>
  new URL(location, `${endpoint.origin}/`);

const urlOf = (exchange: UploadExchange): URL =>
  /^(https?:)?\/\//.test(exchange.target) || exchange.target.startsWith('/v2/')
    ? resolveLocation(exchange.endpoint, exchange.target)
    : new URL(`${exchange.endpoint.origin}/v2/${exchange.repository}${exchange.target}`);

const failure = async (context: UploadContext, exchange: UploadExchange, response: HttpResponse) => {
  const host = exchange.endpoint.host;
  const { status } = response;
  const said = registryErrorOf(
    await readSmallBody(response, 64 * 1024, context.stallTimeoutMs).catch(() => undefined),
  );
  const detail = said.code || said.message ? `: ${[said.code, said.message].filter(Boolean).join(' ')}` : '';
  const what = `${exchange.subject}: ${exchange.method} to ${host} answered HTTP ${status}`;
  if (status === 507 || status === 413) {
    return new RegistryFullError(
      host,
      `${what}${detail} — the registry is out of space or over its quota; free space (garbage-collect) or raise the quota, then run the push again`,
    );
  }
  if (status === 429 || status >= 500) {
    const hint = status === 429 ? ' (rate limited)' : '';
    return new RetryableStatusError(
      host,
      status,
      `${what}${hint}${detail}`,
      parseRetryAfter(headerValue(response, 'retry-after')),
    );
  }
  if (status === 404) return new NotFoundError(`${what}${detail}`);
  return new RegistryProtocolError(`${what}${detail}`);
};

/**
 * One authenticated exchange with a push scope: the cached authorization first, then whatever a 401 challenge
 * asks for, once. Uploads are never redirected by Distribution, Harbor or Zot, so a redirect is an error here.
 */
export const uploadExchange = async (
  context: UploadContext,
  exchange: UploadExchange,
): Promise<HttpResponse> => {
  const { endpoint, repository, subject, signal } = exchange;
  const url = urlOf(exchange);
  const send = (authorization: string | undefined) =>
    context.transport.send(url, {
      method: exchange.method,
      headers: { ...exchange.headers, ...(authorization ? { authorization } : {}) },
      ...(exchange.body ? { body: exchange.body() } : {}),
      signal,
    });
  const scope = exchange.mountFrom ? { pullFrom: exchange.mountFrom } : {};
  let authorization = await context.auth.headerFor(endpoint, repository, subject, signal, scope);
  let response = await send(authorization);
  if (response.status === 401) {
    const challenge = headerValue(response, 'www-authenticate');
    await discard(response);
    authorization = await context.auth.answerChallenge(
      endpoint,
      repository,
      challenge,
      subject,
      signal,
      scope,
    );
    response = await send(authorization);
  }
  context.logger.debug(`${subject}: ${exchange.method} ${url.pathname}: HTTP ${response.status}`);
  if (response.status === 401 || response.status === 403) {
    await discard(response);
    throw await context.auth.denied(endpoint, subject, response.status);
  }
  if (exchange.accept.includes(response.status)) return response;
  throw await failure(context, exchange, response);
};
