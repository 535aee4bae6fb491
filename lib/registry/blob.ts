import type { Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { DigestMismatchError } from '../errors.ts';
import { type Descriptor, digestAlgorithm, hashForDigest } from '../oci/index.ts';
import { type ImageReference, repositoryName } from '../reference/index.ts';
import { RetryBudget } from '../retry.ts';
import { NetworkError, RegistryProtocolError } from './errors.ts';
import type { Endpoint } from './hosts.ts';
import { fromAnyEndpoint, type RegistryContext, registryGet } from './request.ts';
import { abandon, type HttpResponse, headerValue, toTransportError } from './transport.ts';

export interface OpenBlobOptions {
  signal?: AbortSignal;
}

/** `bytes 1024-4095/4096` -> 1024 */
const rangeStart = (contentRange: string | undefined): number | undefined => {
  const match = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(contentRange?.trim() ?? '');
  return match ? Number(match[1]) : undefined;
};

/** One blob download: the bytes counted and hashed so far, and the response they currently come from. */
class BlobTransfer {
  readonly output: Readable;
  readonly #hash: Hash;
  readonly #budget: RetryBudget;
  #received = 0;
  #body: Readable | undefined;

  constructor(
    private readonly context: RegistryContext,
    private readonly subject: string,
    private readonly descriptor: Descriptor,
    private readonly endpoint: Endpoint,
    private readonly open: (endpoint: Endpoint, offset: number) => Promise<HttpResponse>,
    private readonly controller: AbortController,
    private readonly signal: AbortSignal,
    hash: Hash,
  ) {
    this.#hash = hash;
    this.#budget = new RetryBudget(context.retry);
    this.output = new Readable({
      read: () => {
        this.#body?.resume();
      },
      destroy: (error, callback) => {
        this.controller.abort();
        this.#detach();
        callback(error);
      },
    });
  }

  /** Feeds a response's body into the output, dropping the first `skip` bytes (a server that ignored Range). */
  attach(response: HttpResponse, skip: number): void {
    let toSkip = skip;
    const body = response.body;
    this.#body = body;
    body.on('data', (chunk: Buffer) => {
      let bytes = chunk;
      if (toSkip > 0) {
        const dropped = Math.min(toSkip, bytes.length);
        toSkip -= dropped;
        bytes = bytes.subarray(dropped);
        if (bytes.length === 0) return;
      }
      this.#accept(bytes);
    });
    body.on('end', () => this.#finish());
    body.on('error', (error) => {
      this.#detach();
      void this.#recover(error);
    });
  }

  #accept(bytes: Buffer): void {
    const { digest, size } = this.descriptor;
    this.#received += bytes.length;
    if (this.#received > size) {
      this.#detach();
      this.output.destroy(
        new DigestMismatchError(
          `the registry sent more than the ${size} bytes the manifest says — refusing the blob`,
          digest,
          `more than ${size} bytes`,
          { subject: this.subject },
        ),
      );
      return;
    }
    this.#hash.update(bytes);
    if (!this.output.push(bytes)) this.#body?.pause();
  }

  #detach(): void {
    const body = this.#body;
    if (!body) return;
    body.removeAllListeners();
    body.on('error', () => {});
    body.destroy();
    this.#body = undefined;
  }

  /** The body ended: resume a short transfer, or end the output only when size and digest both match. */
  #finish(): void {
    const { digest, size } = this.descriptor;
    this.#detach();
    if (this.#received < size) {
      const reason = `connection closed after ${this.#received} of ${size} bytes`;
      void this.#recover(new NetworkError(this.endpoint.host, reason, { subject: this.subject }));
      return;
    }
    const actual = `${digestAlgorithm(digest)}:${this.#hash.digest('hex')}`;
    if (actual === digest) {
      this.output.push(null);
      return;
    }
    this.output.destroy(
      new DigestMismatchError(
        `downloaded bytes hash to ${actual} — the registry, a proxy or the network corrupted the blob; retry, and report it if it persists`,
        digest,
        actual,
        { subject: this.subject },
      ),
    );
  }

  /** Asks for the rest of the blob: a Range request, or the whole blob again when the server ignores Range. */
  async #resumeFrom(offset: number): Promise<void> {
    const { size } = this.descriptor;
    const response = await this.open(this.endpoint, offset);
    if (response.status !== 206) {
      this.context.logger.debug(
        `${this.subject}: ${response.url.host} ignores Range; restarting and skipping ${offset} bytes`,
      );
      this.attach(response, offset);
      return;
    }
    const range = headerValue(response, 'content-range');
    if (rangeStart(range) !== offset) {
      abandon(response);
      throw new RegistryProtocolError(
        `asked for bytes from ${offset}, ${response.url.host} sent Content-Range ${range}`,
        { subject: this.subject },
      );
    }
    this.context.logger.debug(`${this.subject}: resumed at byte ${offset} of ${size}`);
    this.attach(response, 0);
  }

  /** Retries from the byte the consumer has, while the shared budget lasts; fails the output otherwise. */
  async #recover(cause: unknown): Promise<void> {
    let error = cause;
    for (;;) {
      if (this.output.destroyed) return;
      const mapped = toTransportError(this.endpoint.host, error, this.context.stallTimeoutMs);
      const again = await this.#budget.next(mapped, this.subject, this.signal).catch(() => false);
      if (!again || this.output.destroyed) {
        this.output.destroy(mapped instanceof Error ? mapped : new Error(String(mapped)));
        return;
      }
      try {
        await this.#resumeFrom(this.#received);
        return;
      } catch (next) {
        error = next;
      }
    }
  }
}

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
  const subject = `${repositoryName(reference)}@${digest}`;
  const hash = hashForDigest(digest);
  if (!hash)
    throw new RegistryProtocolError(`digest algorithm ${digestAlgorithm(digest)} is not supported`, {
      subject,
    });

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
        `blob unknown${code === 'NAME_UNKNOWN' ? ' (repository unknown)' : ''} — ${repositoryName(reference)} has no blob ${digest} although its manifest names it`,
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
      `${first.url.host} serves ${announced} bytes, the manifest says ${size} — the registry is inconsistent; report it to its operator`,
      digest,
      `${announced} bytes`,
      { subject },
    );
  }
  const transfer = new BlobTransfer(context, subject, descriptor, endpoint!, open, controller, signal, hash);
  transfer.attach(first, 0);
  return transfer.output;
};
