import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request } from 'undici';
import { AirlockError, type ErrorCode } from '../../lib/errors.ts';
import type { BuiltImage, ImageBlob } from './image.ts';

export interface PushTarget {
  /** `host:port` of a plain-HTTP registry, e.g. rig.registry.host. */
  registry: string;
  /** Repository path, nested paths allowed: `airlock/tests/web`. */
  repository: string;
  /** Tag for the top-level manifest; without it the image is pushed by digest only. */
  tag?: string;
  /** htpasswd credentials, sent as basic auth on every request. */
  auth?: { username: string; password: string };
  /** Blobs uploaded at once; default 3. */
  concurrency?: number;
}

export interface PushResult {
  /** `host:port/repository:tag`, or `host:port/repository@sha256:...` without a tag. */
  reference: string;
  digest: string;
  mediaType: string;
}

/** A registry refused part of a test push; the code follows the HTTP status. */
export class PushError extends AirlockError {
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = 'PushError';
  }
}

const codeOfStatus = (status: number): ErrorCode => {
  if (status === 401 || status === 403) return 'AUTH_DENIED';
  if (status === 404) return 'NOT_FOUND';
  if (status >= 400 && status < 500) return 'BAD_INPUT';
  return 'NETWORK';
};

interface Exchange {
  method: 'HEAD' | 'POST' | 'PUT';
  url: string | URL;
  what: string;
  headers?: Record<string, string>;
  body?: Buffer | NodeJS.ReadableStream;
}

/** HTTP exchanges with the target repository, each failing with the repository and the step in its line. */
const exchanges = (target: PushTarget) => {
  const where = `${target.registry}/${target.repository}`;
  const authorization = target.auth
    ? {
        authorization: `Basic ${Buffer.from(`${target.auth.username}:${target.auth.password}`).toString('base64')}`,
      }
    : {};

  const send = async ({ method, url, what, headers = {}, body }: Exchange) => {
    const response = await request(url, {
      method,
      headers: { ...authorization, ...headers },
      body: body as Buffer | undefined,
    }).catch((error: unknown) => {
      throw new PushError('NETWORK', `push to ${where}: ${what} failed to reach the registry`, {
        cause: error,
      });
    });
    const text = await response.body.text();
    return { status: response.statusCode, headers: response.headers, text };
  };

  const expect = async (exchange: Exchange, statuses: readonly number[]) => {
    const response = await send(exchange);
    if (statuses.includes(response.status)) return response;
    throw new PushError(
      codeOfStatus(response.status),
      `push to ${where}: ${exchange.what} answered ${response.status} ${response.text.trim().slice(0, 300)}` +
        (response.status === 401 ? ' — pass auth: { username, password } for this registry' : ''),
    );
  };

  return { send, expect, where };
};

const pusher = (target: PushTarget) => {
  const base = `http://${target.registry}/v2/${target.repository}`;
  const { send, expect, where } = exchanges(target);

  const pushBlob = async (blob: ImageBlob): Promise<void> => {
    const what = `blob ${blob.digest}`;
    const present = await send({ method: 'HEAD', url: `${base}/blobs/${blob.digest}`, what });
    if (present.status === 200) return;
    const started = await expect(
      { method: 'POST', url: `${base}/blobs/uploads/`, what: `upload of ${what}` },
      [202],
    );
    const location = started.headers.location;
    if (typeof location !== 'string') {
      throw new PushError(
        'BAD_INPUT',
        `push to ${where}: upload of ${what} started without a Location header`,
      );
    }
    const url = new URL(location, base);
    url.searchParams.set('digest', blob.digest);
    await expect(
      {
        method: 'PUT',
        url,
        what: `upload of ${what}`,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
        // Streamed from the cache file: a 300 MB layer never sits in memory.
        body: createReadStream(blob.path, { highWaterMark: 1024 * 1024 }),
      },
      [201],
    );
  };

  const pushManifest = async (blob: ImageBlob, reference: string): Promise<void> => {
    const response = await expect(
      {
        method: 'PUT',
        url: `${base}/manifests/${reference}`,
        what: `manifest ${blob.digest} as ${reference}`,
        headers: { 'content-type': blob.mediaType },
        body: await readFile(blob.path),
      },
      [201],
    );
    const stored = response.headers['docker-content-digest'];
    if (stored !== undefined && stored !== blob.digest) {
      throw new PushError(
        'DIGEST_MISMATCH',
        `push to ${where}: registry stored manifest ${blob.digest} as ${String(stored)}`,
      );
    }
  };

  return { pushBlob, pushManifest, where };
};

const inBatches = async <T>(items: readonly T[], size: number, work: (item: T) => Promise<void>) => {
  const queue = [...items];
  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  };
  await Promise.all(Array.from({ length: Math.max(1, size) }, worker));
};

/**
 * Pushes a built image the way `docker push` does: blobs (skipping those the repository has), child
 * manifests by digest, then the top-level manifest by tag (or by digest without a tag).
 */
export const pushImage = async (image: BuiltImage, target: PushTarget): Promise<PushResult> => {
  const { pushBlob, pushManifest, where } = pusher(target);
  const manifestDigests = new Set([
    image.digest,
    ...image.platforms.map((platform) => platform.manifest.digest),
  ]);
  const contents = image.blobs.filter((blob) => !manifestDigests.has(blob.digest));
  await inBatches(contents, target.concurrency ?? 3, pushBlob);
  for (const platform of image.platforms) {
    if (platform.manifest.digest !== image.digest)
      await pushManifest(platform.manifest, platform.manifest.digest);
  }
  const top = image.blobs.find((blob) => blob.digest === image.digest);
  if (!top) throw new Error(`factory: image ${image.digest} does not list its own top-level blob`);
  await pushManifest(top, target.tag ?? image.digest);
  const reference = target.tag ? `${where}:${target.tag}` : `${where}@${image.digest}`;
  return { reference, digest: image.digest, mediaType: image.mediaType };
};
