import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Descriptor } from '../oci/index.ts';
import { type ImageReference, repositoryName } from '../reference/index.ts';
import { DigestMismatchError, NetworkError, RegistryProtocolError } from './errors.ts';
import type { Endpoint } from './hosts.ts';
import { fromAnyEndpoint, type RegistryContext, registryGet } from './request.ts';
import { RetryBudget } from './retry.ts';
import { abandon, type HttpResponse, headerValue, toTransportError } from './transport.ts';

const HASHES: Record<string, string> = { sha256: 'sha256', sha512: 'sha512' };

export interface OpenBlobOptions {
  signal?: AbortSignal;
}

/** `bytes 1024-4095/4096` -> 1024 */
const rangeStart = (contentRange: string | undefined): number | undefined => {
  const match = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(contentRange?.trim() ?? '');
  return match ? Number(match[1]) : undefined;
};

/**
 * Streams one blob. Size and digest are checked while the bytes flow; the stream ends only when both match,
 * otherwise it fails with DigestMismatchError after the last byte. An interrupted or stalled transfer is resumed
 * with a Range request, or restarted and fast-forwarded when the server ignores Range, so the consumer sees
 * each byte exactly once.
 */
export const openBlobStream = async (
  context: RegistryContext,
  reference: ImageReference,
  descriptor: Descriptor,
  options: OpenBlobOptions = {},
): Promise<Readable> => {
  const { digest, size } = descriptor;
  const algorithm = digest.split(':')[0] ?? '';
  const hashName = HASHES[algorithm];
  const subject = `${repositoryName(reference)}@${digest}`;
  if (!hashName)
    throw new RegistryProtocolError(`${subject}: digest algorithm ${algorithm} is not supported`);

  // Our own controller lets destroy() of the returned stream cancel an in-flight request.
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;

  const open = (endpoint: Endpoint, offset: number) =>
    registryGet(context, {
      endpoint,
      repository: reference.path,
      resource: `/blobs/${digest}`,
      subject,
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      signal,
      notFound: (code) =>
        `${subject}: blob unknown${code === 'NAME_UNKNOWN' ? ' (repository unknown)' : ''} — ${repositoryName(reference)} has no blob ${digest} although its manifest names it`,
    });

  let endpoint: Endpoint | undefined;
  const first = await fromAnyEndpoint(
    context,
    reference.domain,
    subject,
    async (candidate) => {
      const response = await open(candidate, 0);
      endpoint = candidate;
      return response;
    },
    signal,
  );
  const announced = headerValue(first, 'content-length');
  if (announced !== undefined && Number(announced) !== size) {
    abandon(first);
    throw new DigestMismatchError(
      `${subject}: ${first.url.host} serves ${announced} bytes, the manifest says ${size} — the registry is inconsistent; report it to its operator`,
      digest,
      `${announced} bytes`,
    );
  }

  const hash = createHash(hashName);
  const budget = new RetryBudget(context.retry);
  let received = 0;
  let body: Readable | undefined;

  const output = new Readable({
    read() {
      body?.resume();
    },
    destroy(error, callback) {
      controller.abort();
      detach();
      callback(error);
    },
  });

  const detach = () => {
    if (!body) return;
    body.removeAllListeners();
    body.on('error', () => {});
    body.destroy();
    body = undefined;
  };

  const finish = () => {
    detach();
    if (received < size) {
      void recover(
        new NetworkError(first.url.host, `${subject}: connection closed after ${received} of ${size} bytes`),
      );
      return;
    }
    const actual = `${algorithm}:${hash.digest('hex')}`;
    if (actual !== digest) {
      output.destroy(
        new DigestMismatchError(
          `${subject}: downloaded bytes hash to ${actual} — the registry, a proxy or the network corrupted the blob; retry, and report it if it persists`,
          digest,
          actual,
        ),
      );
      return;
    }
    output.push(null);
  };

  const attach = (response: HttpResponse, skip: number) => {
    let toSkip = skip;
    body = response.body;
    body.on('data', (chunk: Buffer) => {
      let bytes = chunk;
      if (toSkip > 0) {
        const dropped = Math.min(toSkip, bytes.length);
        toSkip -= dropped;
        bytes = bytes.subarray(dropped);
        if (bytes.length === 0) return;
      }
      received += bytes.length;
      if (received > size) {
        detach();
        output.destroy(
          new DigestMismatchError(
            `${subject}: the registry sent more than the ${size} bytes the manifest says — refusing the blob`,
            digest,
            `more than ${size} bytes`,
          ),
        );
        return;
      }
      hash.update(bytes);
      if (!output.push(bytes)) body?.pause();
    });
    body.on('end', finish);
    body.on('error', (error) => {
      detach();
      void recover(error);
    });
  };

  const resumeFrom = async (offset: number): Promise<void> => {
    const response = await open(endpoint!, offset);
    if (response.status === 206) {
      const start = rangeStart(headerValue(response, 'content-range'));
      if (start !== offset) {
        abandon(response);
        throw new RegistryProtocolError(
          `${subject}: asked for bytes from ${offset}, ${response.url.host} sent Content-Range ${headerValue(response, 'content-range')}`,
        );
      }
      context.logger.debug(`${subject}: resumed at byte ${offset} of ${size}`);
      attach(response, 0);
      return;
    }
    // The server ignored Range: read from the start again and drop what the consumer already has.
    context.logger.debug(
      `${subject}: ${response.url.host} ignores Range; restarting and skipping ${offset} bytes`,
    );
    attach(response, offset);
  };

  const recover = async (cause: unknown): Promise<void> => {
    let error = cause;
    for (;;) {
      if (output.destroyed) return;
      const mapped = toTransportError(endpoint!.host, error, context.stallTimeoutMs);
      const again = await budget.next(mapped, subject, signal).catch(() => false);
      if (!again || output.destroyed) {
        output.destroy(mapped instanceof Error ? mapped : new Error(String(mapped)));
        return;
      }
      try {
        await resumeFrom(received);
        return;
      } catch (next) {
        error = next;
      }
    }
  };

  attach(first, 0);
  return output;
};
