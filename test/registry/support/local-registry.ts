import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { run, spawn } from '../../../lib/exec/run.ts';

/**
 * CNCF Distribution (`docker-registry serve`) on a free loopback port, for the auth setups the rig does not
 * provide. Several instances may share one storage directory: push through an anonymous one, pull through
 * one that demands a token.
 */
export interface LocalRegistry {
  host: string;
  stop(): Promise<void>;
}

export type RegistryAuth =
  | { kind: 'none' }
  | { kind: 'htpasswd'; username: string; password: string }
  | { kind: 'token'; realm: string; service: string; issuer: string; rootCertBundle: string };

export const freePort = async (): Promise<number> => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
};

const authSection = async (auth: RegistryAuth, dir: string): Promise<string> => {
  switch (auth.kind) {
    case 'none':
      return '';
    case 'htpasswd': {
      // Distribution accepts bcrypt entries only.
      const { stdout } = await run('htpasswd', ['-Bbn', auth.username, auth.password]);
      const path = join(dir, 'htpasswd');
      await writeFile(path, `${stdout.trim()}\n`);
      return `auth:\n  htpasswd:\n    realm: airlock-test\n    path: ${path}\n`;
    }
    case 'token':
      return [
        'auth:',
        '  token:',
        `    realm: ${auth.realm}`,
        `    service: ${auth.service}`,
        `    issuer: ${auth.issuer}`,
        `    rootcertbundle: ${auth.rootCertBundle}`,
        '',
      ].join('\n');
  }
};

export const startLocalRegistry = async (options: {
  dir: string;
  storage: string;
  auth: RegistryAuth;
}): Promise<LocalRegistry> => {
  const port = await freePort();
  const dir = join(options.dir, `registry-${port}`);
  await mkdir(dir, { recursive: true });
  const config = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${options.storage}`,
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: airlock-test-secret',
    await authSection(options.auth, dir),
  ].join('\n');
  const configPath = join(dir, 'config.yml');
  await writeFile(configPath, config);
  const child = spawn('docker-registry', ['serve', configPath]);
  child.catch(() => {});
  const host = `127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt += 1) {
    const ready = await request(`http://${host}/v2/`)
      .then(async (response) => {
        await response.body.dump();
        return response.statusCode === 200 || response.statusCode === 401;
      })
      .catch(() => false);
    if (ready) break;
    if (attempt > 100 || child.exitCode !== null) {
      child.kill();
      throw new Error(`docker-registry on ${host} did not start`);
    }
    await sleep(100);
  }
  return {
    host,
    async stop() {
      child.kill();
      await child.catch(() => {});
    },
  };
};
