import { type IncomingMessage, request } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { AirlockError } from '../errors.ts';
import { watchSource } from '../streams.ts';

/**
 * The Docker Engine API over its unix socket: the importer image needs no docker CLI. node:http, not undici:
 * undici 7 needs Node 20.18 and fails to load on Debian 12's Node 18 (`File is not defined`), which the importer
 * image runs; test/importer/image.test.ts runs the bundle there.
 */

/** `unix:///var/run/docker.sock` (or a bare absolute path) -> the socket path. */
export const dockerSocketOf = (host: string): string => {
  if (host.startsWith('/')) return host;
  if (host.startsWith('unix://')) {
    const path = host.slice('unix://'.length);
    if (path.startsWith('/')) return path;
  }
  throw new AirlockError(
    'UNSUPPORTED',
    `Docker host ${JSON.stringify(host)}: only unix:///absolute/path sockets are supported (no tcp://, ssh:// or npipe://) — mount the node's Docker socket, e.g. unix:///var/run/docker.sock`,
  );
};

export interface DockerRequest {
  socketPath: string;
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  /** Streamed as the request body. */
  body?: Readable;
  /** Told where the body's bytes failed to be read, as opposed to the daemon closing the connection. */
  onBodyError?: (error: unknown) => void;
  signal?: AbortSignal;
  /** Milliseconds of socket inactivity before the request is abandoned. */
  idleTimeoutMs?: number;
}

/** Sends one request; resolves with the response as soon as its headers arrive. */
export const sendDockerRequest = (options: DockerRequest): Promise<IncomingMessage> =>
  new Promise((resolve, reject) => {
    const outgoing = request({
      socketPath: options.socketPath,
      method: options.method,
      path: options.path,
      headers: options.headers,
      // One connection per call: a daemon restart never leaves a stale pooled socket behind.
      agent: false,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    outgoing.once('response', resolve);
    outgoing.once('error', reject);
    if (options.idleTimeoutMs) {
      outgoing.setTimeout(options.idleTimeoutMs, () =>
        outgoing.destroy(
          Object.assign(new Error(`no answer within ${options.idleTimeoutMs}ms`), { code: 'ETIMEDOUT' }),
        ),
      );
    }
    const { body } = options;
    if (!body) {
      outgoing.end();
      return;
    }
    const fromBody = watchSource((error) => options.onBodyError?.(error));
    // A daemon that answers before reading the whole body (it failed early) breaks the pipe: its answer says why.
    pipeline(body, fromBody, outgoing).catch(() => undefined);
  });

const MAX_DOCUMENT = 64 * 1024 * 1024;

/** Reads a (small) response body as text; the image list of a busy node is the largest we expect. */
export const readText = async (response: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response) {
    size += (chunk as Buffer).length;
    if (size > MAX_DOCUMENT) throw new Error(`response larger than ${MAX_DOCUMENT} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
};

/** Docker's progress stream: one JSON message per line. Yields each parsed message, or the raw line it could not parse. */
export async function* readJsonMessages(response: IncomingMessage): AsyncGenerator<unknown> {
  let pending = '';
  // A character may straddle two chunks.
  const decoder = new StringDecoder('utf8');
  const parse = (line: string): unknown => {
    try {
      return JSON.parse(line);
    } catch {
      return line;
    }
  };
  for await (const chunk of response) {
    pending += decoder.write(chunk as Buffer);
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line) yield parse(line);
      newline = pending.indexOf('\n');
    }
  }
  pending += decoder.end();
  if (pending.trim()) yield parse(pending.trim());
}
