import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltImage, pushImage, sharedBaseImages } from '../../rig/factory/index.ts';
import type { FaultProxy } from '../../rig/fault-proxy.ts';
import { generateCredentials, type RigRegistry, startRegistry } from '../../rig/registry.ts';
import { type RigTokenServer, startTokenServer } from '../../rig/token-server.ts';
import { errorLines, runExport, writeChart } from '../export/support.ts';
import { uniqueRepository } from '../registry/support/registries.ts';
import {
  completedBlobDigests,
  dockerConfigWith,
  rig,
  runPush,
  scratch,
  skopeoDigest,
  withProxy,
} from './support.ts';

/**
 * A push into a Distribution registry behind a Bearer token service (Docker's token protocol) on another loopback
 * address than the registry's: the scopes the push asks for, a cross-repository mount's two scopes, and
 * config.toml's trusted_token_realms deciding whether the login may go to that service at all.
 */

let tokens: RigTokenServer;
let registry: RigRegistry;
let proxy: FaultProxy;
let images: string;
let dockerConfig: string;
let built: BuiltImage[];
const repositories = [uniqueRepository('token-a'), uniqueRepository('token-b')];

beforeAll(async () => {
  const dir = await scratch('push-token');
  tokens = await startTokenServer({ dir, ...generateCredentials(), address: '127.0.0.2' });
  registry = await startRegistry({ dir: join(dir, 'registry'), tokenAuth: tokens });
  proxy = await withProxy(registry.host);
  built = await sharedBaseImages({ name: 'push-token', count: 2 });
  for (const [index, image] of built.entries()) {
    await pushImage(image, { registry: rig.registry.host, repository: repositories[index]!, tag: 'v1' });
  }
  const chart = await writeChart(
    repositories.map((repository, index) => ({
      name: `c${index}`,
      image: `${rig.registry.host}/${repository}:v1`,
    })),
  );
  images = join(dir, 'images');
  const exported = await runExport(['--chart', chart, '--output', images]);
  expect(exported.code, exported.stderr).toBe(0);
  // The login is for the registry as the push addresses it: through the proxy that counts the uploads.
  dockerConfig = await dockerConfigWith(proxy.host, tokens.username, tokens.password);
}, 300_000);

afterAll(async () => {
  await proxy?.close();
  await registry?.stop();
  await tokens?.stop();
});

const configTrusting = async (realms: string[]) => {
  const dir = await scratch('push-token-config');
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'config.toml');
  await writeFile(file, `trusted_token_realms = ${JSON.stringify(realms)}\n`);
  return file;
};

describe('a push behind a Bearer token service on another host', () => {
  it('keeps the login from a realm config.toml does not trust, in one line naming the key, and writes no tag', async () => {
    const prefix = uniqueRepository('untrusted');
    const result = await runPush(['--registry', `${proxy.host}/${prefix}`, '--dir', images], {
      dockerConfig,
    });
    expect(result.code).toBe(1);
    const lines = errorLines(result.stderr, `add ${tokens.host} to trusted_token_realms in config.toml`);
    expect(lines, result.stderr).toHaveLength(2);
    expect(tokens.requests.filter((request) => request.account !== undefined)).toEqual([]);
    const manifestPuts = proxy.requests.filter(
      (request) => request.method === 'PUT' && request.path.includes(`/v2/${prefix}/`),
    );
    expect(manifestPuts).toEqual([]);
  });

  it('asks for pull,push on each repository, and pull on the source of a mount, once the realm is trusted', async () => {
    const prefix = uniqueRepository('trusted');
    tokens.requests.length = 0;
    proxy.reset();
    const config = await configTrusting([tokens.host]);
    const result = await runPush(
      ['--registry', `${proxy.host}/${prefix}`, '--dir', images, '--config', config, '--concurrency', '1'],
      { dockerConfig },
    );
    expect(result.code, result.stderr).toBe(0);
    const targets = repositories.map((repository) => `${prefix}/${repository}`);
    const asked = tokens.requests.filter((request) => request.account === tokens.username);
    expect(asked.every((request) => request.service === tokens.service)).toBe(true);
    for (const target of targets) {
      expect(asked.map((request) => request.scopes)).toContainEqual([`repository:${target}:pull,push`]);
    }
    // The layer both images share goes up once, into the first repository, and is mounted into the second with
    // a token for both: pushing to the second, pulling from the first.
    expect(asked.map((request) => request.scopes)).toContainEqual([
      `repository:${targets[1]}:pull,push`,
      `repository:${targets[0]}:pull`,
    ]);
    const base = built[0]!.platforms[0]!.layers[0]!.digest;
    expect(built[1]!.platforms[0]!.layers[0]!.digest).toBe(base);
    expect(completedBlobDigests(proxy).filter((digest) => digest === base)).toHaveLength(1);
    for (const [index, target] of targets.entries()) {
      const credentials = `${tokens.username}:${tokens.password}`;
      expect(await skopeoDigest(`${registry.host}/${target}:v1`, credentials)).toBe(built[index]!.digest);
    }
  });
});
