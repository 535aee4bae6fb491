import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../lib/oci/index.ts';
import { parseReference } from '../../lib/reference/index.ts';
import {
  createRegistryClient,
  type RegistryClientOptions,
  staticCredentials,
} from '../../lib/registry/index.ts';
import type { Logger } from '../../lib/report/log.ts';
import { type BuiltImage, largeLayerImage, ociImage, pushImage } from '../../rig/factory/index.ts';
import { type FaultProxy, startFaultProxy } from '../../rig/fault-proxy.ts';
import {
  descriptorOf,
  digestStream,
  openRegistries,
  type TestRegistries,
  uniqueRepository,
} from './support/registries.ts';

const KIB = 1024;

let registries: TestRegistries;
let proxy: FaultProxy;
let small: { image: BuiltImage; repository: string };
let large: { image: BuiltImage; repository: string };

const recordingLogger = (): Logger & { lines: string[] } => {
  const lines: string[] = [];
  const add = (message: string) => lines.push(message);
  return { lines, info: add, warn: add, error: add, debug: add };
};

const clientFor = (options: RegistryClientOptions = {}) =>
  createRegistryClient({ credentials: staticCredentials({}), retries: 2, retryDelayMs: 20, ...options });

const viaProxy = (repository: string, tag = 'v1') => parseReference(`${proxy.host}/${repository}:${tag}`);

const largeLayer = () => {
  const layers = large.image.platforms[0]!.layers;
  return layers.reduce((biggest, layer) => (layer.size > biggest.size ? layer : biggest));
};

beforeAll(async () => {
  registries = await openRegistries();
  proxy = await startFaultProxy(registries.anonymous);
  const smallImage = await ociImage({ name: 'registry-faults-small' });
  const largeImage = await largeLayerImage({ name: 'registry-faults-large', bytes: 3 * 1024 * KIB });
  small = { image: smallImage, repository: uniqueRepository('faults-small') };
  large = { image: largeImage, repository: uniqueRepository('faults-large') };
  await pushImage(smallImage, { registry: registries.anonymous, repository: small.repository, tag: 'v1' });
  await pushImage(largeImage, { registry: registries.anonymous, repository: large.repository, tag: 'v1' });
  await pushImage(smallImage, {
    registry: registries.basic.host,
    repository: small.repository,
    tag: 'v1',
    auth: registries.basic,
  });
});

afterEach(() => proxy.reset());

afterAll(async () => {
  await proxy?.close();
  await registries?.close();
});

describe('retries', () => {
  it('retries a manifest after a 503 and succeeds', async () => {
    proxy.add({ path: /\/manifests\//, fault: { kind: 'status', status: 503 } });
    const client = clientFor();

    const fetched = await client.getManifest(viaProxy(small.repository));

    expect(fetched.descriptor.digest).toBe(small.image.digest);
    expect(proxy.requests.filter((request) => request.path.includes('/manifests/'))).toHaveLength(2);
    await client.close();
  });

  it('waits for Retry-After after a 429 before trying again', async () => {
    proxy.add({
      path: /\/manifests\//,
      fault: { kind: 'status', status: 429, headers: { 'retry-after': '1' } },
    });
    const client = clientFor();
    const started = Date.now();

    const fetched = await client.getManifest(viaProxy(small.repository));

    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fetched.descriptor.digest).toBe(small.image.digest);
    await client.close();
  });

  it('gives up with NETWORK naming the host once the retries are spent', async () => {
    proxy.add({ path: /\/manifests\//, times: 10, fault: { kind: 'status', status: 500 } });
    const client = clientFor({ retries: 1 });

    await expect(client.getManifest(viaProxy(small.repository))).rejects.toMatchObject({
      code: 'NETWORK',
      message: expect.stringContaining(`${proxy.host} answered HTTP 500`),
    });
    expect(proxy.requests).toHaveLength(2);
    await client.close();
  });
});

describe('interrupted blobs', () => {
  it('resumes a blob with Range after a connection reset and verifies the whole', async () => {
    const layer = largeLayer();
    proxy.add({ path: /\/blobs\//, fault: { kind: 'reset', afterBytes: 512 * KIB } });
    const client = clientFor();

    const stream = await client.openBlob(viaProxy(large.repository), descriptorOf(layer));

    expect(await digestStream(stream)).toEqual({ digest: layer.digest, size: layer.size });
    const blobRequests = proxy.requests.filter((request) => request.path.includes('/blobs/'));
    expect(blobRequests).toHaveLength(2);
    expect(blobRequests[1]!.headers.range).toMatch(/^bytes=[1-9]\d*-$/);
    await client.close();
  });

  it('restarts a blob and skips what it has when the server ignores Range', async () => {
    const layer = largeLayer();
    proxy.add({ path: /\/blobs\//, fault: { kind: 'reset', afterBytes: 768 * KIB } });
    proxy.add({ path: /\/blobs\//, fault: { kind: 'ignore-range' } });
    const client = clientFor();

    const stream = await client.openBlob(viaProxy(large.repository), descriptorOf(layer));

    expect(await digestStream(stream)).toEqual({ digest: layer.digest, size: layer.size });
    expect(proxy.requests.map((request) => request.fault)).toEqual(['reset', 'ignore-range']);
    await client.close();
  });

  it('fails a corrupted blob with DIGEST_MISMATCH instead of passing it on', async () => {
    const layer = largeLayer();
    proxy.add({ path: /\/blobs\//, fault: { kind: 'corrupt' } });
    const client = clientFor();

    const stream = await client.openBlob(viaProxy(large.repository), descriptorOf(layer));

    await expect(digestStream(stream)).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      message: expect.stringContaining(layer.digest),
    });
    await client.close();
  });

  it('fails a blob that stalls on every attempt with TIMEOUT', async () => {
    const layer = largeLayer();
    proxy.add({ path: /\/blobs\//, times: 10, fault: { kind: 'stall', afterBytes: 256 * KIB } });
    const client = clientFor({ retries: 1, stallTimeoutMs: 300 });

    const stream = await client.openBlob(viaProxy(large.repository), descriptorOf(layer));

    await expect(digestStream(stream)).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(proxy.requests).toHaveLength(2);
    await client.close();
  });

  it('recovers from one stall by resuming the blob', async () => {
    const layer = largeLayer();
    proxy.add({ path: /\/blobs\//, fault: { kind: 'stall', afterBytes: 256 * KIB } });
    const client = clientFor({ stallTimeoutMs: 300 });

    const stream = await client.openBlob(viaProxy(large.repository), descriptorOf(layer));

    expect(await digestStream(stream)).toEqual({ digest: layer.digest, size: layer.size });
    await client.close();
  });
});

describe('cancellation', () => {
  it('stops a blob download as soon as the caller aborts, without retrying', async () => {
    const layer = largeLayer();
    proxy.add({ path: /\/blobs\//, fault: { kind: 'stall', afterBytes: 256 * KIB } });
    const client = clientFor({ stallTimeoutMs: 20_000 });
    const controller = new AbortController();

    const stream = await client.openBlob(viaProxy(large.repository), descriptorOf(layer), {
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 200);

    await expect(digestStream(stream)).rejects.toMatchObject({ name: 'AbortError' });
    expect(proxy.requests).toHaveLength(1);
    await client.close();
  });
});

describe('redirects', () => {
  it('follows a 307 of a blob to another host without sending it the Authorization header', async () => {
    const { host, username, password } = registries.basic;
    const authProxy = await startFaultProxy(host);
    const storage = await startFaultProxy(registries.anonymous);
    const layer = small.image.platforms[0]!.layers[0]!;
    authProxy.add({
      path: /\/blobs\//,
      when: (request) => request.headers.authorization !== undefined,
      fault: {
        kind: 'redirect',
        status: 307,
        location: `http://${storage.host}/v2/${small.repository}/blobs/${layer.digest}?signature=test`,
      },
    });
    const client = clientFor({
      credentials: staticCredentials({ [authProxy.host]: { username, password } }),
    });

    try {
      const stream = await client.openBlob(
        parseReference(`${authProxy.host}/${small.repository}:v1`),
        descriptorOf(layer),
      );

      expect(await digestStream(stream)).toEqual({ digest: layer.digest, size: layer.size });
      expect(authProxy.requests.map((request) => request.fault)).toContain('redirect');
      expect(authProxy.requests.at(-1)!.headers.authorization).toMatch(/^Basic /);
      expect(storage.requests).toHaveLength(1);
      expect(storage.requests[0]!.path).toContain('signature=test');
      expect(storage.requests[0]!.headers.authorization).toBeUndefined();
    } finally {
      await client.close();
      await authProxy.close();
      await storage.close();
    }
  });
});

describe('answers the client cannot use', () => {
  it('refuses a Docker schema 1 manifest with UNSUPPORTED and says what to do', async () => {
    const schema1 = JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'v1', fsLayers: [], history: [] });
    proxy.add({
      path: /\/manifests\//,
      fault: {
        kind: 'status',
        status: 200,
        headers: { 'content-type': MediaType.dockerManifestSchema1Signed },
        body: schema1,
      },
    });
    const client = clientFor();

    await expect(client.getManifest(viaProxy(small.repository))).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringContaining('Docker schema 1 manifest is not supported'),
    });
    await client.close();
  });

  it('refuses to buffer a manifest larger than 4 MiB', async () => {
    proxy.add({
      path: /\/manifests\//,
      fault: {
        kind: 'status',
        status: 200,
        headers: { 'content-type': MediaType.ociManifest },
        body: Buffer.alloc(5 * 1024 * KIB, 0x20),
      },
    });
    const client = clientFor();

    await expect(client.getManifest(viaProxy(small.repository))).rejects.toThrow(/larger than 4 MiB/);
    await client.close();
  });

  it("reports a registry's NAME_UNKNOWN as an unknown repository", async () => {
    const body = JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known' }] });
    proxy.add({ path: /\/manifests\//, fault: { kind: 'status', status: 404, body } });
    const client = clientFor();

    await expect(client.getManifest(viaProxy('airlock-test/nothing-here'))).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/repository unknown — .*airlock-test\/nothing-here does not exist/),
    });
    await client.close();
  });

  it('never logs more than it should while retrying', async () => {
    proxy.add({ path: /\/manifests\//, fault: { kind: 'status', status: 502 } });
    const logger = recordingLogger();
    const client = clientFor({ logger });

    await client.getManifest(viaProxy(small.repository));

    expect(logger.lines.some((line) => /HTTP 502 .*retry 1\/2/.test(line))).toBe(true);
    await client.close();
  });
});
