import type { Readable } from 'node:stream';
import { Agent, type Dispatcher, EnvHttpProxyAgent, request } from 'undici';
import { isLoopback } from './hosts.ts';
import { type HttpResponse, type Transport, toTransportError } from './transport.ts';

/** Everything an upload sends: the pull transport's GET/HEAD/POST plus PUT and PATCH with streamed bodies. */
export interface UploadSendOptions {
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH';
  headers?: Record<string, string>;
  body?: string | Buffer | Readable;
  signal?: AbortSignal;
}

export interface UploadTransport extends Transport {
  send(url: URL, options?: UploadSendOptions): Promise<HttpResponse>;
}

export interface UploadTransportOptions {
  userAgent: string;
  stallTimeoutMs: number;
  /** PEM certificates trusted for HTTPS registries, in addition to Node's bundled roots. */
  ca?: string;
}

/**
 * The pull transport cannot send a body other than a string, nor trust a private CA: registries inside an air gap
 * usually carry a certificate from the site's own CA, so the uploader brings its own dispatcher.
 */
export const createUploadTransport = ({
  userAgent,
  stallTimeoutMs,
  ca,
}: UploadTransportOptions): UploadTransport => {
  const timeouts = { headersTimeout: stallTimeoutMs, bodyTimeout: stallTimeoutMs };
  const tls = ca ? { connect: { ca: [ca] }, requestTls: { ca: [ca] } } : {};
  let direct: Agent | undefined;
  let proxied: EnvHttpProxyAgent | undefined;
  const dispatcherFor = (url: URL): Dispatcher => {
    if (isLoopback(url.host)) {
      direct ??= new Agent({ ...timeouts, ...(ca ? { connect: { ca: [ca] } } : {}) });
      return direct;
    }
    proxied ??= new EnvHttpProxyAgent({ ...timeouts, ...tls });
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
