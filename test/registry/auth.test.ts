import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseReference } from '../../lib/reference/index.ts';
import {
  createDockerConfigCredentials,
  createRegistryClient,
  type RegistryClientOptions,
  staticCredentials,
} from '../../lib/registry/index.ts';
import type { Logger } from '../../lib/report/log.ts';
import { type BuiltImage, ociImage, pushImage } from '../../rig/factory/index.ts';
import { type LocalRegistry, startLocalRegistry } from './support/local-registry.ts';
import {
  descriptorOf,
  digestStream,
  openRegistries,
  type TestRegistries,
  uniqueRepository,
} from './support/registries.ts';
import { startTokenServer, type TokenServer } from './support/token-server.ts';

const WRONG_PASSWORD = 'Wr0ng-Pa55word-Never-Shown';
const TOKEN_LOGIN = { username: 'token-user', password: 'T0ken-Pa55word-Never-Shown' };

let registries: TestRegistries;
let image: BuiltImage;
let basicReference: string;
let token: {
  server: TokenServer;
  registry: LocalRegistry;
  pusher: LocalRegistry;
  reference: string;
  repository: string;
};
let configCount = 0;
const savedEnv = { DOCKER_CONFIG: process.env.DOCKER_CONFIG, PATH: process.env.PATH };

const recordingLogger = (): Logger & { lines: string[] } => {
  const lines: string[] = [];
  const add = (message: string) => lines.push(message);
  return { lines, info: add, warn: add, error: add, debug: add };
};

/** Writes `config.json` into a fresh directory and returns the directory (a DOCKER_CONFIG value). */
const dockerConfig = async (config: unknown): Promise<string> => {
  configCount += 1;
  const dir = join(registries.dir, `docker-config-${configCount}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
};

const basicAuth = (username: string, password: string) =>
  Buffer.from(`${username}:${password}`).toString('base64');

const pullEverything = async (options: RegistryClientOptions, reference: string) => {
  const client = createRegistryClient({ retries: 0, ...options });
  try {
    const ref = parseReference(reference);
    const fetched = await client.getManifest(ref);
    for (const blob of image.blobs.filter((candidate) => candidate.digest !== image.digest)) {
      const stream = await client.openBlob(ref, descriptorOf(blob));
      expect(await digestStream(stream)).toEqual({ digest: blob.digest, size: blob.size });
    }
    return fetched;
  } finally {
    await client.close();
  }
};

/** A `docker-credential-airlocktest` on PATH that knows one login and logs the server URLs it is asked for. */
const installHelper = async (host: string, login: { username: string; password: string }) => {
  const bin = join(registries.dir, 'helper-bin');
  await mkdir(bin, { recursive: true });
  const asked = join(bin, 'asked.log');
  const answer = JSON.stringify({ ServerURL: host, Username: login.username, Secret: login.password });
  const script = [
    '#!/bin/sh',
    'read -r server',
    `printf '%s\\n' "$server" >> '${asked}'`,
    `if [ "$1" = get ] && [ "$server" = '${host}' ]; then printf '%s' '${answer}'; exit 0; fi`,
    'echo "credentials not found in native keychain"',
    'exit 1',
    '',
  ].join('\n');
  const path = join(bin, 'docker-credential-airlocktest');
  await writeFile(path, script);
  await chmod(path, 0o755);
  process.env.PATH = `${bin}:${savedEnv.PATH}`;
  return { asked };
};

beforeAll(async () => {
  registries = await openRegistries();
  image = await ociImage({ name: 'registry-auth' });
  const repository = uniqueRepository('auth');
  await pushImage(image, { registry: registries.basic.host, repository, tag: 'v1', auth: registries.basic });
  basicReference = `${registries.basic.host}/${repository}:v1`;

  // Token auth: push through an anonymous instance, pull through one that trusts our token service.
  const storage = join(registries.dir, 'token-storage');
  const server = await startTokenServer({ dir: registries.dir, login: TOKEN_LOGIN });
  const pusher = await startLocalRegistry({ dir: registries.dir, storage, auth: { kind: 'none' } });
  const registry = await startLocalRegistry({
    dir: registries.dir,
    storage,
    auth: { kind: 'token', ...server },
  });
  const tokenRepository = uniqueRepository('bearer');
  await pushImage(image, { registry: pusher.host, repository: tokenRepository, tag: 'v1' });
  token = {
    server,
    registry,
    pusher,
    repository: tokenRepository,
    reference: `${registry.host}/${tokenRepository}:v1`,
  };
});

afterEach(() => {
  process.env.DOCKER_CONFIG = savedEnv.DOCKER_CONFIG;
  process.env.PATH = savedEnv.PATH;
  if (savedEnv.DOCKER_CONFIG === undefined) delete process.env.DOCKER_CONFIG;
});

afterAll(async () => {
  await token?.registry.stop();
  await token?.pusher.stop();
  await token?.server.close();
  await registries?.close();
});

describe('basic auth with the Docker config', () => {
  it('pulls with credentials from $DOCKER_CONFIG/config.json (auths)', async () => {
    const { host, username, password } = registries.basic;
    process.env.DOCKER_CONFIG = await dockerConfig({
      auths: { [host]: { auth: basicAuth(username, password) } },
    });

    const fetched = await pullEverything({}, basicReference);

    expect(fetched.descriptor.digest).toBe(image.digest);
  });

  it('accepts an auths key written as a URL with scheme and path', async () => {
    const { host, username, password } = registries.basic;
    const dir = await dockerConfig({ auths: { [`http://${host}/v1/`]: { username, password } } });

    const fetched = await pullEverything(
      { credentials: createDockerConfigCredentials({ env: { DOCKER_CONFIG: dir } }) },
      basicReference,
    );

    expect(fetched.descriptor.digest).toBe(image.digest);
  });

  it('refuses a wrong password with AUTH_DENIED naming the config file, and never shows the password', async () => {
    const { host, username } = registries.basic;
    const dir = await dockerConfig({ auths: { [host]: { auth: basicAuth(username, WRONG_PASSWORD) } } });
    const logger = recordingLogger();

    const error = await pullEverything(
      { credentials: createDockerConfigCredentials({ env: { DOCKER_CONFIG: dir } }), logger },
      basicReference,
    ).then(
      () => expect.unreachable('the pull must fail'),
      (failure: unknown) => failure as Error & { code: string },
    );

    expect(error).toMatchObject({ code: 'AUTH_DENIED' });
    expect(error.message).toBe(
      `${basicReference}: registry refused credentials from ${join(dir, 'config.json')} (auths) — run 'docker login ${host}'`,
    );
    const everything = [error.message, String(error.stack), JSON.stringify(error), ...logger.lines].join(
      '\n',
    );
    expect(everything).not.toContain(WRONG_PASSWORD);
    expect(everything).not.toContain(basicAuth(username, WRONG_PASSWORD));
  });

  it('says no credentials were found when the config has none for the registry', async () => {
    const dir = await dockerConfig({ auths: { 'other.example.com': { auth: basicAuth('a', 'b') } } });

    const pull = pullEverything(
      { credentials: createDockerConfigCredentials({ env: { DOCKER_CONFIG: dir } }) },
      basicReference,
    );

    await expect(pull).rejects.toMatchObject({
      code: 'AUTH_DENIED',
      message: expect.stringContaining(
        `registry requires authentication and no credentials were found in ${join(dir, 'config.json')}`,
      ),
    });
  });
});

describe('credential helpers', () => {
  it('asks the credsStore helper, passing the registry host on stdin', async () => {
    const { host, username, password } = registries.basic;
    const { asked } = await installHelper(host, { username, password });
    const dir = await dockerConfig({ credsStore: 'airlocktest' });

    const fetched = await pullEverything(
      { credentials: createDockerConfigCredentials({ env: { DOCKER_CONFIG: dir } }) },
      basicReference,
    );

    expect(fetched.descriptor.digest).toBe(image.digest);
    expect((await readFile(asked, 'utf8')).split('\n')).toContain(host);
  });

  it('prefers the registry’s credHelpers entry over a stale auths entry', async () => {
    const { host, username, password } = registries.basic;
    await installHelper(host, { username, password });
    const dir = await dockerConfig({
      credHelpers: { [host]: 'airlocktest' },
      auths: { [host]: { auth: basicAuth(username, WRONG_PASSWORD) } },
    });

    const fetched = await pullEverything(
      { credentials: createDockerConfigCredentials({ env: { DOCKER_CONFIG: dir } }) },
      basicReference,
    );

    expect(fetched.descriptor.digest).toBe(image.digest);
  });

  it('names the helper when the registry refuses what it returned', async () => {
    const { host, username } = registries.basic;
    await installHelper(host, { username, password: WRONG_PASSWORD });
    const dir = await dockerConfig({ credHelpers: { [host]: 'airlocktest' } });

    const pull = pullEverything(
      { credentials: createDockerConfigCredentials({ env: { DOCKER_CONFIG: dir } }) },
      basicReference,
    );

    await expect(pull).rejects.toMatchObject({
      code: 'AUTH_DENIED',
      message: expect.stringContaining(
        `refused credentials from docker-credential-airlocktest (credHelpers in ${join(dir, 'config.json')})`,
      ),
    });
  });
});

describe('Bearer token auth (Distribution with auth.token and a token service)', () => {
  it('pulls with a token fetched once per repository scope with the login', async () => {
    const before = token.server.requests.length;

    const fetched = await pullEverything(
      { credentials: staticCredentials({ [token.registry.host]: TOKEN_LOGIN }) },
      token.reference,
    );

    expect(fetched.descriptor.digest).toBe(image.digest);
    const requests = token.server.requests.slice(before);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toEqual({
      scope: `repository:${token.repository}:pull`,
      authorization: `Basic ${basicAuth(TOKEN_LOGIN.username, TOKEN_LOGIN.password)}`,
    });
  });

  it('reports a login the token service refuses as AUTH_DENIED', async () => {
    const credentials = staticCredentials(
      { [token.registry.host]: { username: TOKEN_LOGIN.username, password: WRONG_PASSWORD } },
      'the test logins',
    );

    const pull = pullEverything({ credentials }, token.reference);

    await expect(pull).rejects.toMatchObject({
      code: 'AUTH_DENIED',
      message: `${token.reference}: registry refused credentials from the test logins — run 'docker login ${token.registry.host}'`,
    });
  });

  it('reports a missing login as AUTH_DENIED with the docker login command', async () => {
    const pull = pullEverything(
      { credentials: staticCredentials({}, '~/.docker/config.json') },
      token.reference,
    );

    await expect(pull).rejects.toMatchObject({
      code: 'AUTH_DENIED',
      message: expect.stringMatching(
        /no credentials were found in ~\/\.docker\/config\.json .*run 'docker login 127\.0\.0\.1:\d+'/,
      ),
    });
  });
});
