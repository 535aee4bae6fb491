// The cluster's identity: a CA that is also the HTTPS serving certificate of the in-cluster endpoint
// (127.0.0.1, pods share the node's network), and the ES256 key that signs service account tokens. kubelet
// mounts the CA as ca.crt and a token bound to the pod; the API server accepts the token while the service
// account and the pod it names still exist, as the real TokenRequest-issued tokens are checked.
import { createPrivateKey, type KeyObject, randomBytes, sign, verify, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { ApiError } from './status.ts';
import type { Store } from './store.ts';

export interface ClusterIdentity {
  /** PEM of the self-signed CA, which also serves HTTPS: what pods read as ca.crt. */
  caPem: string;
  keyPem: string;
  signingKey: KeyObject;
}

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const ISSUER = 'https://kubernetes.default.svc.cluster.local';

const pem = (label: string, der: ArrayBuffer): string =>
  `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/.{64}/g, '$&\n')
    .trimEnd()}\n-----END ${label}-----\n`;

export const createClusterIdentity = async (): Promise<ClusterIdentity> => {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex'),
    name: 'CN=airlock-stand-in-ca',
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 365 * 24 * 3600_000),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign |
          x509.KeyUsageFlags.digitalSignature |
          x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'dns', value: 'localhost' },
        { type: 'dns', value: 'kubernetes.default.svc' },
      ]),
    ],
  });
  const keyPem = pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { caPem: certificate.toString('pem'), keyPem, signingKey: createPrivateKey(keyPem) };
};

export interface TokenClaims {
  namespace: string;
  serviceAccountName: string;
  podName: string;
  podUid: string;
  audience?: string;
  expirationSeconds?: number;
}

const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A bound service account token as the TokenRequest API issues it: an ES256 JWT naming the pod. */
export const issueToken = (identity: ClusterIdentity, store: Store, claims: TokenClaims): string => {
  const account = store.get('serviceaccounts', claims.namespace, claims.serviceAccountName);
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    aud: [claims.audience ?? ISSUER],
    exp: now + (claims.expirationSeconds ?? 3607),
    iat: now,
    nbf: now,
    iss: ISSUER,
    sub: `system:serviceaccount:${claims.namespace}:${claims.serviceAccountName}`,
    'kubernetes.io': {
      namespace: claims.namespace,
      pod: { name: claims.podName, uid: claims.podUid },
      serviceaccount: { name: claims.serviceAccountName, uid: account?.metadata.uid ?? '' },
    },
  };
  const input = `${base64url({ alg: 'ES256', typ: 'JWT' })}.${base64url(payload)}`;
  const signature = sign('sha256', Buffer.from(input), {
    key: identity.signingKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${signature.toString('base64url')}`;
};

export interface ServiceAccountUser {
  username: string;
  namespace: string;
  serviceAccountName: string;
}

const unauthorized = (): ApiError => new ApiError('Unauthorized', 'Unauthorized');

interface BoundClaims {
  exp: number;
  'kubernetes.io': {
    namespace: string;
    pod: { name: string; uid: string };
    serviceaccount: { name: string; uid: string };
  };
}

/** The user a bearer token stands for; 401 when the signature, the expiry or a bound object does not hold. */
export const authenticate = (identity: ClusterIdentity, store: Store, token: string): ServiceAccountUser => {
  const [header = '', body = '', signature = ''] = token.split('.');
  const signed = verify(
    'sha256',
    Buffer.from(`${header}.${body}`),
    { key: identity.signingKey, dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature, 'base64url'),
  );
  if (!signed) throw unauthorized();
  let claims: BoundClaims;
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as BoundClaims;
  } catch {
    throw unauthorized();
  }
  const bound = claims['kubernetes.io'];
  if (!bound || claims.exp * 1000 < Date.now()) throw unauthorized();
  const account = store.get('serviceaccounts', bound.namespace, bound.serviceaccount.name);
  const pod = store.get('pods', bound.namespace, bound.pod.name);
  // A deleted service account or pod invalidates its tokens at once, as for the real bound tokens.
  if (account?.metadata.uid !== bound.serviceaccount.uid || pod?.metadata.uid !== bound.pod.uid)
    throw unauthorized();
  return {
    username: `system:serviceaccount:${bound.namespace}:${bound.serviceaccount.name}`,
    namespace: bound.namespace,
    serviceAccountName: bound.serviceaccount.name,
  };
};
