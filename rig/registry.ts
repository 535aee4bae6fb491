import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { isAirlockError } from '../lib/errors.ts';
import { run } from '../lib/exec/run.ts';
import { lastLogLines, startDaemon } from './daemon.ts';
import { ensureCommand } from './packages.ts';
import { freePort } from './workdir.ts';

export interface RigRegistry {
  /** '127.0.0.1:PORT' */
  host: string;
  /** 'http://127.0.0.1:PORT' */
  url: string;
  /** CNCF Distribution's version, e.g. '2.8.2+ds1'. */
  version: string;
  /** Where the registry keeps its blobs; removed with the rig's directory. */
  storage: string;
  stop(): Promise<void>;
}

export interface RigAuthRegistry extends RigRegistry {
  username: string;
  password: string;
}

export interface RegistryOptions {
  /** A directory of this run; the registry's config, log and storage go below it. */
  dir: string;
  /** htpasswd basic auth with these credentials; anonymous when absent. */
  basicAuth?: { username: string; password: string };
  /** Bearer tokens from a token service (rig/token-server.ts) instead: Distribution's `auth.token`. */
  tokenAuth?: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

const PORT_ATTEMPTS = 3;

export const registryVersion = async (): Promise<string> => {
  // "docker-registry github.com/docker/distribution 2.8.2+ds1"
  const { stdout } = await run('docker-registry', ['--version']);
  return stdout.trim().split(/\s+/).at(-1) ?? stdout.trim();
};

const authSection = async (
  dir: string,
  { basicAuth, tokenAuth }: Pick<RegistryOptions, 'basicAuth' | 'tokenAuth'>,
): Promise<string[]> => {
  if (tokenAuth) {
    return [
      'auth:',
      '  token:',
      `    realm: ${tokenAuth.realm}`,
      `    service: ${tokenAuth.service}`,
      `    issuer: ${tokenAuth.issuer}`,
      `    rootcertbundle: ${tokenAuth.rootCertBundle}`,
    ];
  }
  if (!basicAuth) return [];
  await ensureCommand('htpasswd', 'apache2-utils');
  // Distribution reads bcrypt entries only.
  const { stdout } = await run('htpasswd', ['-Bbn', basicAuth.username, basicAuth.password]);
  const path = join(dir, 'htpasswd');
  await writeFile(path, `${stdout.trim()}\n`, { mode: 0o600 });
  return ['auth:', '  htpasswd:', '    realm: airlock-rig', `    path: ${path}`];
};

const registryConfig = (storage: string, port: number, auth: string[]): string =>
  [
    'version: 0.1',
    'log:',
    '  level: info',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
    ...auth,
    '',
  ].join('\n');

// Any answer from /v2/ means the registry serves: 200 when anonymous, 401 with a challenge behind auth.
const answersV2 = async (url: string): Promise<boolean> => {
  const response = await request(`${url}/v2/`, { headersTimeout: 2_000, bodyTimeout: 2_000 });
  await response.body.dump();
  return response.headers['docker-distribution-api-version'] !== undefined;
};

const startOnce = async (dir: string, auth: string[], version: string): Promise<RigRegistry> => {
  const port = await freePort();
  const storage = join(dir, 'storage');
  await mkdir(storage, { recursive: true });
  const configPath = join(dir, `config-${port}.yml`);
  await writeFile(configPath, registryConfig(storage, port, auth));
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  const logFile = join(dir, 'registry.log');
  const daemon = await startDaemon({
    name: 'registry',
    command: 'docker-registry',
    args: ['serve', configPath],
    logFile,
    // A registry of another run may have taken the port meanwhile: only our own log proves the bind.
    ready: async () =>
      (await readFile(logFile, 'utf8')).includes(`listening on ${host}`) && (await answersV2(url)),
    readyTimeout: 30_000,
    stopGrace: 5_000,
  });
  return { host, url, version, storage, stop: daemon.stop };
};

const lostPortRace = async (dir: string, error: unknown): Promise<boolean> =>
  isAirlockError(error) &&
  (await lastLogLines(join(dir, 'registry.log'), 5)).includes('address already in use');

/**
 * CNCF Distribution (`docker-registry serve`) on a free loopback port with filesystem storage in `dir`
 * and deletes enabled. Retries on a fresh port when another process took the chosen one first.
 */
export async function startRegistry(
  options: RegistryOptions & { basicAuth: { username: string; password: string } },
): Promise<RigAuthRegistry>;
export async function startRegistry(options: RegistryOptions): Promise<RigRegistry>;
export async function startRegistry(options: RegistryOptions): Promise<RigRegistry | RigAuthRegistry> {
  await ensureCommand('docker-registry', 'docker-registry');
  await mkdir(options.dir, { recursive: true });
  const dir = await mkdtemp(join(options.dir, 'reg-'));
  const [version, auth] = await Promise.all([registryVersion(), authSection(dir, options)]);
  for (let attempt = 1; ; attempt++) {
    try {
      const registry = await startOnce(dir, auth, version);
      return options.basicAuth ? { ...registry, ...options.basicAuth } : registry;
    } catch (error) {
      if (attempt >= PORT_ATTEMPTS || !(await lostPortRace(dir, error))) throw error;
    }
  }
}

/** Credentials made up for one run, so no two runs (or leaked logs) share them. */
export const generateCredentials = (): { username: string; password: string } => ({
  username: `rig-${randomBytes(3).toString('hex')}`,
  password: randomBytes(18).toString('base64url'),
});
