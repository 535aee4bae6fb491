import { createServer, request as forward } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReference } from '../../lib/reference/index.ts';
import { createRegistryClient, staticCredentials } from '../../lib/registry/index.ts';
import { ociImage, pushImage } from '../../rig/factory/index.ts';
import {
  descriptorOf,
  digestStream,
  openRegistries,
  type TestRegistries,
  uniqueRepository,
} from './support/registries.ts';

/**
 * An HTTP proxy on loopback that alone knows where `registry.test` is (the real registry on 127.0.0.1):
 * a request for registry.test only succeeds if it went through the proxy. Speaks CONNECT and absolute-form.
 */
const startForwardProxy = async (routes: Record<string, string>) => {
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const route = (authority: string) => routes[authority] ?? authority;
  const server = createServer((incoming, outgoing) => {
    const url = new URL(incoming.url ?? '/');
    seen.push(`${incoming.method} ${url.host}`);
    const [hostname, port] = route(url.host).split(':');
    const upstream = forward(
      {
        hostname,
        port: Number(port),
        method: incoming.method,
        path: url.pathname + url.search,
        headers: incoming.headers,
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    upstream.on('error', () => outgoing.destroy());
    incoming.pipe(upstream);
  });
  server.on('connect', (incoming, client: Socket, head) => {
    seen.push(`CONNECT ${incoming.url}`);
    const [hostname, port] = route(incoming.url ?? '').split(':');
    const upstream = connect(Number(port), hostname, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
    }
  });
  server.on('connection', (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

let registries: TestRegistries;

beforeAll(async () => {
  registries = await openRegistries();
});

afterAll(async () => {
  await registries?.close();
});

describe('proxies', () => {
  it('sends requests for a remote insecure registry through HTTP_PROXY', async () => {
    const port = registries.anonymous.split(':')[1]!;
    const remoteName = `registry.test:${port}`;
    const proxy = await startForwardProxy({ [remoteName]: registries.anonymous });
    const image = await ociImage({ name: 'registry-proxy' });
    const repository = uniqueRepository('proxy');
    await pushImage(image, { registry: registries.anonymous, repository, tag: 'v1' });
    const saved = { HTTP_PROXY: process.env.HTTP_PROXY, NO_PROXY: process.env.NO_PROXY };
    process.env.HTTP_PROXY = proxy.url;
    delete process.env.NO_PROXY;
    const client = createRegistryClient({
      credentials: staticCredentials({}),
      insecureRegistries: [remoteName],
      retries: 0,
    });

    try {
      const ref = parseReference(`${remoteName}/${repository}:v1`);
      const fetched = await client.getManifest(ref);
      const layer = image.platforms[0]!.layers[0]!;
      const stream = await client.openBlob(ref, descriptorOf(layer));

      expect(fetched.descriptor.digest).toBe(image.digest);
      expect(await digestStream(stream)).toEqual({ digest: layer.digest, size: layer.size });
      expect(proxy.seen.length).toBeGreaterThan(0);
      expect(proxy.seen.every((line) => line.includes(remoteName))).toBe(true);
    } finally {
      await client.close();
      await proxy.close();
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('talks to loopback registries directly even when HTTP_PROXY is set', async () => {
    const proxy = await startForwardProxy({});
    const image = await ociImage({ name: 'registry-no-proxy' });
    const repository = uniqueRepository('no-proxy');
    await pushImage(image, { registry: registries.anonymous, repository, tag: 'v1' });
    const saved = process.env.HTTP_PROXY;
    process.env.HTTP_PROXY = proxy.url;
    const client = createRegistryClient({ credentials: staticCredentials({}), retries: 0 });

    try {
      const fetched = await client.getManifest(parseReference(`${registries.anonymous}/${repository}:v1`));

      expect(fetched.descriptor.digest).toBe(image.digest);
      expect(proxy.seen).toEqual([]);
    } finally {
      await client.close();
      await proxy.close();
      if (saved === undefined) delete process.env.HTTP_PROXY;
      else process.env.HTTP_PROXY = saved;
    }
  });
});
