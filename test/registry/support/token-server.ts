import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { run } from '../../../lib/exec/run.ts';

/**
 * A Docker token service (distribution's token auth spec) on loopback: issues RS256 JWTs signed with a key made
 * for the test, trusted by the registry through `rootcertbundle`. Records each token request.
 */
export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  rootCertBundle: string;
  requests: { scope: string | null; authorization: string | undefined }[];
  close(): Promise<void>;
}

const base64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

const basicLogin = (request: IncomingMessage): { username: string; password: string } | undefined => {
  const header = request.headers.authorization;
  if (!header?.startsWith('Basic ')) return undefined;
  const text = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
};

export const startTokenServer = async (options: {
  dir: string;
  /** When set, tokens are issued only to this login; otherwise to anyone. */
  login?: { username: string; password: string };
  /** Loopback address to listen on; another one than the registry's puts the realm on another host. */
  host?: string;
}): Promise<TokenServer> => {
  const host = options.host ?? '127.0.0.1';
  const keyPath = join(options.dir, 'token.key');
  const certPath = join(options.dir, 'token.crt');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    '2',
    '-subj',
    '/CN=airlock-test-token-issuer',
  ]);
  const key = createPrivateKey(await readFile(keyPath));
  const certificate = (await readFile(certPath, 'utf8')).replace(/-----[A-Z ]+-----|\s/g, '');
  const service = 'airlock-test-registry';
  const issuer = 'airlock-test-issuer';
  const requests: TokenServer['requests'] = [];

  const issue = (subject: string, scope: string | null): string => {
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certificate] };
    const now = Math.floor(Date.now() / 1000);
    const access = (scope ?? '')
      .split(' ')
      .filter(Boolean)
      .map((entry) => {
        const [type, name, actions] = entry.split(':');
        return { type, name, actions: (actions ?? '').split(',').filter((action) => action === 'pull') };
      });
    const claims = {
      iss: issuer,
      sub: subject,
      aud: service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    return `${signingInput}.${base64url(sign('sha256', Buffer.from(signingInput), key))}`;
  };

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://token');
    const scope = url.searchParams.get('scope');
    requests.push({ scope, authorization: request.headers.authorization });
    const login = basicLogin(request);
    if (
      options.login &&
      (login?.username !== options.login.username || login.password !== options.login.password)
    ) {
      response.writeHead(401, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ details: 'incorrect username or password' }));
      return;
    }
    const token = issue(login?.username ?? '', scope);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://${host}:${port}/token`,
    service,
    issuer,
    rootCertBundle: certPath,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
};
