import { randomBytes, sign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { run } from '../lib/exec/run.ts';

/** One GET to the token endpoint, as the registry's clients sent it. */
export interface TokenRequest {
  scopes: string[];
  service: string | undefined;
  /** The Basic user, when the request carried valid credentials. */
  account: string | undefined;
}

export interface RigTokenServer {
  /** `http://127.0.0.1:PORT/token`: the realm Distribution names in its Bearer challenge. */
  realm: string;
  /** `ADDRESS:PORT`: another host than the registry's, as a token service usually is. */
  host: string;
  service: string;
  issuer: string;
  /** PEM certificate Distribution checks the tokens' signatures against (`auth.token.rootcertbundle`). */
  rootCertBundle: string;
  username: string;
  password: string;
  requests: TokenRequest[];
  stop(): Promise<void>;
}

const base64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** `repository:NAME:ACTIONS` -> the `access` entry of Docker's token claim set. */
const accessOf = (scope: string) => {
  const [type, ...rest] = scope.split(':');
  const actions = rest.pop() ?? '';
  return { type: type ?? '', name: rest.join(':'), actions: actions.split(',').filter(Boolean) };
};

/** An ES256 JWT in Docker's token format, its certificate in the `x5c` header for the registry to check. */
const signToken = (
  signer: { privateKey: Buffer; certificate: string; issuer: string; service: string },
  account: string | undefined,
  scopes: string[],
): string => {
  const now = Math.floor(Date.now() / 1000);
  const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [signer.certificate] }));
  const claims = base64url(
    JSON.stringify({
      iss: signer.issuer,
      sub: account ?? '',
      aud: signer.service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access: account ? scopes.map(accessOf) : [],
    }),
  );
  // JWS ES256: the signature is r || s, not DER.
  const signature = sign('sha256', Buffer.from(`${header}.${claims}`), {
    key: signer.privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${header}.${claims}.${base64url(signature)}`;
};

const credentialsOf = (request: IncomingMessage): [string, string] | undefined => {
  const header = request.headers.authorization ?? '';
  if (!header.startsWith('Basic ')) return undefined;
  const text = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? undefined : [text.slice(0, colon), text.slice(colon + 1)];
};

/**
 * A token service speaking Docker's token protocol (GET `/token?service=...&scope=...`, Basic credentials) for a
 * Distribution registry configured with `auth.token`: it signs ES256 JWTs whose `x5c` header carries its
 * self-signed certificate, which the registry trusts as its root bundle. Valid credentials get every action they
 * ask for; anonymous requests get a token granting nothing; wrong credentials get 401. Every request is recorded.
 */
export const startTokenServer = async (options: {
  dir: string;
  username: string;
  password: string;
  /** Loopback address to listen on; another than the registry's (127.0.0.2) makes the realm another host. */
  address?: string;
}): Promise<RigTokenServer> => {
  const key = join(options.dir, 'token-key.pem');
  const rootCertBundle = join(options.dir, 'token-cert.pem');
  await run('openssl', [
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ...['-keyout', key, '-out', rootCertBundle, '-days', '2', '-subj', '/CN=airlock-rig-token'],
  ]);
  const [privateKey, certificate] = await Promise.all([readFile(key), readFile(rootCertBundle, 'utf8')]);
  const der = certificate.replace(/-----[^-]+-----|\s/g, '');
  const service = 'airlock-rig-registry';
  const issuer = 'airlock-rig-token';
  const requests: TokenRequest[] = [];

  const issue = (account: string | undefined, scopes: string[]) =>
    signToken({ privateKey, certificate: der, issuer, service }, account, scopes);

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://token');
    const given = credentialsOf(request);
    const valid = given?.[0] === options.username && given[1] === options.password;
    const scopes = url.searchParams.getAll('scope').flatMap((scope) => scope.split(' ').filter(Boolean));
    requests.push({
      scopes,
      service: url.searchParams.get('service') ?? undefined,
      account: valid ? given?.[0] : undefined,
    });
    if (url.pathname !== '/token') {
      response.writeHead(404).end();
      return;
    }
    if (given && !valid) {
      response.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
      return;
    }
    const token = issue(valid ? given?.[0] : undefined, scopes);
    response
      .writeHead(200, { 'content-type': 'application/json' })
      .end(
        JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }),
      );
  };

  const server = createServer(handle);
  const address = options.address ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const host = `${address}:${(server.address() as AddressInfo).port}`;
  return {
    realm: `http://${host}/token`,
    host,
    service,
    issuer,
    rootCertBundle,
    username: options.username,
    password: options.password,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
