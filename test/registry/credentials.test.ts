import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerConfigCredentials, displayPath, dockerConfigPath } from '../../lib/registry/index.ts';

let dir: string;

const storeWith = async (config: unknown) => {
  const path = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(path, typeof config === 'string' ? config : JSON.stringify(config));
  return { store: createDockerConfigCredentials({ path }), path };
};

const auth = (text: string) => Buffer.from(text).toString('base64');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-credentials-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('createDockerConfigCredentials', () => {
  it('finds Docker Hub under the legacy https://index.docker.io/v1/ key', async () => {
    const { store, path } = await storeWith({
      auths: { 'https://index.docker.io/v1/': { auth: auth('hub:pa:ss') } },
    });

    expect(await store.lookup('docker.io')).toEqual({
      username: 'hub',
      password: 'pa:ss',
      source: `${path} (auths)`,
    });
  });

  it('matches keys with a scheme and reads username/password fields', async () => {
    const { store } = await storeWith({ auths: { 'https://ghcr.io': { username: 'u', password: 'p' } } });

    expect(await store.lookup('ghcr.io')).toMatchObject({ username: 'u', password: 'p' });
    expect(await store.lookup('quay.io')).toBeUndefined();
  });

  it('carries an identity token for the OAuth2 flow', async () => {
    const { store } = await storeWith({
      auths: { 'acr.example.io': { auth: auth('00000000-0000:'), identitytoken: 'refresh' } },
    });

    expect(await store.lookup('acr.example.io')).toMatchObject({ identityToken: 'refresh' });
  });

  it('treats a missing config file as no credentials', async () => {
    const store = createDockerConfigCredentials({ path: join(dir, 'absent', 'config.json') });

    expect(await store.lookup('docker.io')).toBeUndefined();
  });

  it('rejects a config that is not JSON with BAD_INPUT naming the file', async () => {
    const { store, path } = await storeWith('{ not json');

    await expect(store.lookup('docker.io')).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining(path),
    });
  });

  it("treats a helper's 'credentials not found' answer as no credentials and falls back to auths", async () => {
    const helper = join(dir, 'docker-credential-airlockempty');
    await writeFile(helper, '#!/bin/sh\necho "credentials not found in native keychain"\nexit 1\n');
    await chmod(helper, 0o755);
    const savedPath = process.env.PATH;
    process.env.PATH = `${dir}:${savedPath}`;
    try {
      const { store } = await storeWith({
        credsStore: 'airlockempty',
        auths: { 'quay.io': { auth: auth('q:p') } },
      });

      expect(await store.lookup('ghcr.io')).toBeUndefined();
      expect(await store.lookup('quay.io')).toMatchObject({ username: 'q', password: 'p' });
    } finally {
      process.env.PATH = savedPath;
    }
  });

  it('reports a credential helper that is not installed as AUTH_DENIED naming it', async () => {
    const { store } = await storeWith({ credsStore: 'airlock-absent-helper' });

    await expect(store.lookup('ghcr.io')).rejects.toMatchObject({
      code: 'AUTH_DENIED',
      message: expect.stringContaining('docker-credential-airlock-absent-helper'),
    });
  });
});

describe('dockerConfigPath', () => {
  it('honours DOCKER_CONFIG and shows the home directory as ~', () => {
    expect(dockerConfigPath({ DOCKER_CONFIG: '/etc/docker-client' })).toBe('/etc/docker-client/config.json');
    expect(displayPath(dockerConfigPath({}))).toBe('~/.docker/config.json');
  });
});
