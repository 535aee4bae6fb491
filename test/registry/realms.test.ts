import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReference } from '../../lib/reference/index.ts';
import { realmRefusal } from '../../lib/registry/auth.ts';
import { createRegistryClient, staticCredentials } from '../../lib/registry/index.ts';
import { ociImage, pushImage } from '../../rig/factory/index.ts';
import { type LocalRegistry, startLocalRegistry } from './support/local-registry.ts';
import { openRegistries, type TestRegistries, uniqueRepository } from './support/registries.ts';
import { startTokenServer, type TokenServer } from './support/token-server.ts';

/**
 * A registry names its token realm itself: credentials must not follow it to another host. The token service
 * here listens on 127.0.0.2, another host than the registry's 127.0.0.1, and records every Authorization it gets.
 */
const LOGIN = { username: 'realm-user', password: 'Rea1m-Pa55word-Never-Shown' };

let registries: TestRegistries;
let server: TokenServer;
let registry: LocalRegistry;
let pusher: LocalRegistry;
let reference: string;

beforeAll(async () => {
  registries = await openRegistries();
  server = await startTokenServer({ dir: registries.dir, login: LOGIN, host: '127.0.0.2' });
  const storage = join(registries.dir, 'realm-storage');
  pusher = await startLocalRegistry({ dir: registries.dir, storage, auth: { kind: 'none' } });
  registry = await startLocalRegistry({ dir: registries.dir, storage, auth: { kind: 'token', ...server } });
  const repository = uniqueRepository('realm');
  await pushImage(await ociImage({ name: 'realm' }), { registry: pusher.host, repository, tag: 'v1' });
  reference = `${registry.host}/${repository}:v1`;
});

afterAll(async () => {
  await registry?.stop();
  await pusher?.stop();
  await server?.close();
  await registries?.close();
});

const pull = async (trustedTokenRealms: string[]) => {
  const client = createRegistryClient({
    retries: 0,
    credentials: staticCredentials({ [registry.host]: LOGIN }, 'the test logins'),
    trustedTokenRealms,
  });
  try {
    return await client.getManifest(parseReference(reference));
  } finally {
    await client.close();
  }
};

describe('Bearer realms', () => {
  it('sends no credentials to a realm on another host, and says why access failed', async () => {
    const before = server.requests.length;
    const realm = new URL(server.realm);
    await expect(pull([])).rejects.toMatchObject({
      code: 'AUTH_DENIED',
      message: `${reference}: registry refused anonymous access; credentials from the test logins were not sent: the token realm ${realm.origin} is not on ${registry.host} — if it is the registry's own token service, add ${realm.host} to trusted_token_realms in config.toml`,
    });
    const requests = server.requests.slice(before);
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.map((request) => request.authorization)).toEqual(requests.map(() => undefined));
  });

  it('sends them to a realm host named in trusted_token_realms', async () => {
    const before = server.requests.length;
    const realm = new URL(server.realm);
    const fetched = await pull([realm.host]);
    expect(fetched.descriptor.digest).toMatch(/^sha256:/);
    const basic = `Basic ${Buffer.from(`${LOGIN.username}:${LOGIN.password}`).toString('base64')}`;
    expect(server.requests.slice(before).map((request) => request.authorization)).toEqual([basic]);
  });
});

describe('realmRefusal', () => {
  const endpoint = (origin: string, host: string) => ({ origin, host, registry: host, mirror: false });

  it.each([
    ['https://registry.example.com', 'https://registry.example.com/token', [], undefined],
    ['https://registry.example.com:5000', 'https://registry.example.com:5001/token', [], undefined],
    ['https://registry-1.docker.io', 'https://auth.docker.io/token', [], undefined],
    ['https://registry.example.com', 'https://auth.example.com/token', ['auth.example.com'], undefined],
    ['http://127.0.0.1:5000', 'http://127.0.0.1:6000/token', [], undefined],
    ['https://registry.example.com', 'https://evil.example.net/token', [], 'is not on registry.example.com'],
    ['https://registry.example.com', 'http://registry.example.com/token', [], 'is plain HTTP'],
  ])('%s with realm %s (trusted %j)', (origin, realm, trusted, refusal) => {
    const reason = realmRefusal(endpoint(origin, new URL(origin).host), new URL(realm), trusted);
    if (refusal === undefined) expect(reason).toBeUndefined();
    else expect(reason).toContain(refusal);
  });
});
