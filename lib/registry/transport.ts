import type { Readable } from 'node:stream';
import { Agent, type Dispatcher, EnvHttpProxyAgent, request } from 'undici';
import { codeOfSystemError } from '../errors.ts';
import { NetworkError, TimeoutError } from './errors.ts';
import { isLoopback } from './hosts.ts';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** undici's body: a Readable that must be consumed or destroyed. */
  body: Readable;
  url: URL;
}

export interface SendOptions {
  /** PUT and PATCH carry uploads; pulls use GET, HEAD and POST (token requests). */
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH';
  headers?: Record<string, string>;
  /** A string, or an upload's bytes streamed from a Buffer or a Readable. */
  body?: string | Buffer | Readable;
  signal?: AbortSignal;
}

export interface Transport {
  /** One HTTP exchange, no redirects followed; failures become NetworkError or TimeoutError. */
  send(url: URL, options?: SendOptions): Promise<HttpResponse>;
  close(): Promise<void>;
}

export interface TransportOptions {
  userAgent: string;
  /** No byte (headers or body) for this long aborts the exchange. */
  stallTimeoutMs: number;
  /**
   * PEM certificates trusted for HTTPS registries besides Node's bundled roots: registries inside an air gap
   * usually carry a certificate from the site's own CA.
   */
  ca?: string;
}

export const headerValue = (response: Pick<HttpResponse, 'headers'>, name: string): string | undefined => {
  const value = response.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
};

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

const describeCause = (error: unknown): string => {
  const failure = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = failure.code ?? failure.cause?.code;
  const message = failure.cause?.message ?? failure.message ?? String(error);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
};

/** Maps what undici and Node throw to our vocabulary; an abort by the caller passes through untouched. */
export const toTransportError = (host: string, error: unknown, stallTimeoutMs: number): unknown => {
  if (error instanceof NetworkError || error instanceof TimeoutError) return error;
  const name = (error as { name?: string }).name;
  if (name === 'AbortError') return error;
  const code = (error as { code?: string }).code;
  if (code && TIMEOUT_CODES.has(code)) {
    return new TimeoutError(
      host,
      `no data for ${stallTimeoutMs / 1000}s (${code}) — the registry or a proxy between us stalls`,
      { subject: host, cause: error },
    );
  }
  const system = codeOfSystemError(error) ?? codeOfSystemError((error as { cause?: unknown }).cause);
  if (system === 'NETWORK' || code?.startsWith('UND_ERR') || error instanceof TypeError) {
    return new NetworkError(host, `connection error: ${describeCause(error)}`, {
      subject: host,
      cause: error,
    });
  }
  return error;
};

/**
 * HTTPS_PROXY, HTTP_PROXY and NO_PROXY are honoured for remote registries; loopback never goes through a proxy,
 * as in Go's net/http (and therefore dockerd and containerd).
 */
export const createTransport = ({ userAgent, stallTimeoutMs, ca }: TransportOptions): Transport => {
  const timeouts = { headersTimeout: stallTimeoutMs, bodyTimeout: stallTimeoutMs };
  const trusted = ca ? { connect: { ca: [ca] } } : {};
  let direct: Agent | undefined;
  let proxied: EnvHttpProxyAgent | undefined;
  const dispatcherFor = (url: URL): Dispatcher => {
    if (isLoopback(url.host)) {
      direct ??= new Agent({ ...timeouts, ...trusted });
      return direct;
    }
    proxied ??= new EnvHttpProxyAgent({
      ...timeouts,
      ...trusted,
      ...(ca ? { requestTls: { ca: [ca] } } : {}),
    });
    return proxied;
  };

  return {
    async send(url, { method = 'GET', headers = {}, body, signal } = {}) {
      try {
        const response = await request(url, {
          method,
          headers: { 'user-agent': userAgent, ...headers },
          body,
          signal,
          dispatcher: dispatcherFor(url),
          ...timeouts,
        });
        return { status: response.statusCode, headers: response.headers, body: response.body, url };
      } catch (error) {
        throw toTransportError(url.host, error, stallTimeoutMs);
      }
    },
    async close() {
      await Promise.all([direct?.close(), proxied?.close()]);
    },
  };
};

/** Closes a body we stop reading; undici reports that as an AbortError nobody needs to see. */
export const abandon = (response: Pick<HttpResponse, 'body'>): void => {
  response.body.on('error', () => {});
  response.body.destroy();
};

/** Drains and discards a body we do not need, so the connection returns to the pool. */
export const discard = async (response: HttpResponse): Promise<void> => {
  try {
    await (response.body as Readable & { dump?: () => Promise<void> }).dump?.();
  } catch {
    abandon(response);
  }
};

/** Reads a small body (error documents, tokens, manifests) up to `limit` bytes; longer is an error. */
export const readSmallBody = async (
  response: HttpResponse,
  limit: number,
  stallTimeoutMs: number,
): Promise<Buffer | undefined> => {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of response.body) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
      length += buffer.length;
      if (length > limit) {
        abandon(response);
        return undefined;
      }
      chunks.push(buffer);
    }
  } catch (error) {
    throw toTransportError(response.url.host, error, stallTimeoutMs);
  }
  return Buffer.concat(chunks);
};
