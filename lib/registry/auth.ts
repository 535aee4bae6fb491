import { z } from 'zod';
import type { Logger } from '../report/log.ts';
import { type Challenge, parseChallenges } from './challenge.ts';
import type { Credential, CredentialStore } from './credentials.ts';
import { AuthDeniedError, RegistryProtocolError } from './errors.ts';
import { type Endpoint, isLoopback } from './hosts.ts';
import { parseRetryAfter, RetryableStatusError } from './retry.ts';
import { discard, type HttpResponse, headerValue, readSmallBody, type Transport } from './transport.ts';

/** The token endpoint's answer (Docker's token spec and the OAuth2 variant both occur in the wild). */
const TokenAnswer = z.looseObject({
  token: z.string().optional(),
  access_token: z.string().optional(),
  expires_in: z.number().optional(),
  issued_at: z.string().optional(),
});

/** Tokens shorter-lived than this are treated as living this long, as the token spec says. */
const MIN_TOKEN_LIFETIME_S = 60;
const EXPIRY_MARGIN_MS = 10_000;

/** More than the request's own repository in a token's scope. */
export interface ScopeOptions {
  /** A cross-repository mount reads the blob from here: the token must also allow `repository:<from>:pull`. */
  pullFrom?: string;
}

export interface Authenticator {
  /** The Authorization header for a request, when an earlier challenge from this endpoint said one is needed. */
  headerFor(
    endpoint: Endpoint,
    repository: string,
    subject: string,
    signal?: AbortSignal,
    scope?: ScopeOptions,
  ): Promise<string | undefined>;
  /** After a 401: learn its challenge and return fresh authorization to try once more. */
  answerChallenge(
    endpoint: Endpoint,
    repository: string,
    wwwAuthenticate: string | undefined,
    subject: string,
    signal?: AbortSignal,
    scope?: ScopeOptions,
  ): Promise<string | undefined>;
  /** The error for a registry that still says no (401/403) after we answered its challenge. */
  denied(endpoint: Endpoint, subject: string, status: number): Promise<AuthDeniedError>;
}

export interface AuthenticatorOptions {
  credentials: CredentialStore;
  /** Token realm hosts (`auth.example.com`, `host:port`) trusted with credentials besides the registry's own. */
  trustedTokenRealms?: readonly string[];
  transport: Transport;
  stallTimeoutMs: number;
  logger: Logger;
  /** Actions asked for in token scopes: `pull` (default), or `pull,push` for an uploader. */
  scopeActions?: string;
}

/** `docker login` wants the registry as written in references; a mirror is logged into by its own host. */
const loginHost = (endpoint: Endpoint): string => (endpoint.mirror ? endpoint.host : endpoint.registry);

const basicHeader = (credential: Credential): string =>
  `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;

/** Token services that live on another host than their registry, by the registry's API host. */
const KNOWN_REALMS: Readonly<Record<string, readonly string[]>> = {
  'registry-1.docker.io': ['auth.docker.io'],
};

const hostnameOf = (url: URL): string => url.hostname.replace(/^\[|\]$/g, '').toLowerCase();

/**
 * Why credentials must not go to a Bearer realm, or undefined when they may: a realm is a URL the registry
 * names, so a hostile or compromised registry (or a proxy on plain HTTP) could point it anywhere.
 */
export const realmRefusal = (
  endpoint: Endpoint,
  realm: URL,
  trusted: readonly string[] = [],
): string | undefined => {
  const registry = new URL(endpoint.origin);
  const realmHost = hostnameOf(realm);
  const allowed =
    realmHost === hostnameOf(registry) ||
    (KNOWN_REALMS[registry.host] ?? []).includes(realmHost) ||
    trusted.some((entry) => {
      const wanted = entry.toLowerCase();
      return wanted === realm.host.toLowerCase() || wanted === realmHost;
    });
  if (!allowed) {
    return `the token realm ${realm.origin} is not on ${endpoint.host} — if it is the registry's own token service, add ${realm.host} to trusted_token_realms in config.toml`;
  }
  if (realm.protocol !== 'https:' && !isLoopback(realm.host)) {
    return `the token realm ${realm.origin} is plain HTTP, where anyone on the path could read them — the registry must name an https:// realm`;
  }
  return undefined;
};

const pickChallenge = (challenges: Challenge[]): Challenge | undefined =>
  challenges.find((challenge) => challenge.scheme === 'bearer') ??
  challenges.find((challenge) => challenge.scheme === 'basic');

interface Token {
  header: string;
  expiresAt: number;
}

/** Challenges, tokens and withheld credentials per endpoint, for the whole run. */
class RegistryAuthenticator implements Authenticator {
  readonly #options: AuthenticatorOptions;
  readonly #challenges = new Map<string, Challenge>();
  readonly #tokens = new Map<string, Promise<Token>>();
  /** Per endpoint origin: why its credentials were kept from its token realm, for the error if access fails. */
  readonly #withheld = new Map<string, string>();

  constructor(options: AuthenticatorOptions) {
    this.#options = options;
  }

  #credentialFor(endpoint: Endpoint) {
    return this.#options.credentials.lookup(loginHost(endpoint));
  }

  #missingCredentials(endpoint: Endpoint, subject: string) {
    return new AuthDeniedError(
      `registry requires authentication and no credentials were found in ${this.#options.credentials.location} ` +
        `(or the repository does not exist) — run 'docker login ${loginHost(endpoint)}'`,
      { subject },
    );
  }

  #refused(endpoint: Endpoint, subject: string, credential: Credential, status: number) {
    const why = this.#withheld.get(endpoint.origin);
    if (why) {
      return new AuthDeniedError(
        `registry refused anonymous access; credentials from ${credential.source} were not sent: ${why}`,
        { subject },
      );
    }
    return new AuthDeniedError(
      status === 403
        ? `registry denied access to the account from ${credential.source} (HTTP 403) — check that it may pull this repository`
        : `registry refused credentials from ${credential.source} — run 'docker login ${loginHost(endpoint)}'`,
      { subject },
    );
  }

  /** The credential that may go to this realm, or undefined (and why, remembered) when it may not. */
  async #credentialForRealm(endpoint: Endpoint, realm: URL, subject: string) {
    const stored = await this.#credentialFor(endpoint);
    const refusal = stored ? realmRefusal(endpoint, realm, this.#options.trustedTokenRealms) : undefined;
    if (!refusal) return { stored, sent: stored };
    this.#withheld.set(endpoint.origin, refusal);
    this.#options.logger.debug(`${subject}: asking for a token without credentials: ${refusal}`);
    return { stored, sent: undefined };
  }

  /** GET with Basic credentials (or none), or an OAuth2 POST with a refresh token, as the token spec allows. */
  async #sendTokenRequest(
    url: URL,
    form: URLSearchParams,
    credential: Credential | undefined,
    signal?: AbortSignal,
  ) {
    const scopes = form.getAll('scope');
    const { transport } = this.#options;
    if (credential?.identityToken) {
      // An OAuth2 refresh token (from `docker login` with a browser flow or a helper's `<token>` user).
      form.set('grant_type', 'refresh_token');
      form.set('refresh_token', credential.identityToken);
      form.set('client_id', 'airlock');
      // OAuth2 takes one space-separated scope; the token spec's GET repeats the parameter.
      form.set('scope', scopes.join(' '));
      return transport.send(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        signal,
      });
    }
    for (const [key, value] of form) if (key !== 'scope') url.searchParams.set(key, value);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = credential ? { authorization: basicHeader(credential) } : {};
    return transport.send(url, { headers, signal });
  }

  /** The token in a 200 answer, with its expiry; a protocol error for anything else. */
  async #readToken(response: HttpResponse, url: URL, subject: string): Promise<Token> {
    const body = await readSmallBody(response, 1024 * 1024, this.#options.stallTimeoutMs);
    let answer: z.infer<typeof TokenAnswer> | undefined;
    try {
      answer =
        response.status === 200 && body ? TokenAnswer.parse(JSON.parse(body.toString('utf8'))) : undefined;
    } catch {
      answer = undefined;
    }
    const token = answer?.token ?? answer?.access_token;
    if (!answer || !token) {
      throw new RegistryProtocolError(
        `token service ${url.origin}${url.pathname} answered HTTP ${response.status} without a token`,
        { subject },
      );
    }
    const issuedAt = answer.issued_at ? Date.parse(answer.issued_at) : Number.NaN;
    const start = Number.isNaN(issuedAt) ? Date.now() : Math.min(issuedAt, Date.now());
    const lifetime = Math.max(MIN_TOKEN_LIFETIME_S, answer.expires_in ?? 0) * 1000;
    return { header: `Bearer ${token}`, expiresAt: start + lifetime - EXPIRY_MARGIN_MS };
  }

  async #requestToken(
    endpoint: Endpoint,
    challenge: Challenge,
    scopes: readonly string[],
    subject: string,
    signal?: AbortSignal,
  ): Promise<Token> {
    const realm = challenge.params.realm;
    if (!realm)
      throw new RegistryProtocolError(`${endpoint.host} sent a Bearer challenge without realm`, { subject });
    const url = new URL(realm);
    const { stored, sent } = await this.#credentialForRealm(endpoint, url, subject);
    const form = new URLSearchParams(scopes.map((scope): [string, string] => ['scope', scope]));
    if (challenge.params.service) form.set('service', challenge.params.service);
    const response = await this.#sendTokenRequest(url, form, sent, signal);
    this.#options.logger.debug(
      `${subject}: token for ${scopes.join(' ')} from ${url.origin}${url.pathname}: HTTP ${response.status}`,
    );
    if (response.status === 401 || response.status === 403) {
      await discard(response);
      throw stored
        ? this.#refused(endpoint, subject, stored, response.status)
        : this.#missingCredentials(endpoint, subject);
    }
    if (response.status === 429 || response.status >= 500) {
      await discard(response);
      throw new RetryableStatusError(
        url.host,
        response.status,
        `token service answered HTTP ${response.status}`,
        parseRetryAfter(headerValue(response, 'retry-after')),
        { subject: url.host },
      );
    }
    return this.#readToken(response, url, subject);
  }

  async #authorize(
    endpoint: Endpoint,
    challenge: Challenge,
    repository: string,
    subject: string,
    fresh: boolean,
    signal?: AbortSignal,
    extra: ScopeOptions = {},
  ): Promise<string | undefined> {
    if (challenge.scheme === 'basic') {
      const credential = await this.#credentialFor(endpoint);
      if (!credential) throw this.#missingCredentials(endpoint, subject);
      return basicHeader(credential);
    }
    const scopes = [
      `repository:${repository}:${this.#options.scopeActions ?? 'pull'}`,
      ...(extra.pullFrom ? [`repository:${extra.pullFrom}:pull`] : []),
    ];
    const key = `${endpoint.origin}|${challenge.params.realm}|${challenge.params.service}|${scopes.join(' ')}`;
    const cached = this.#tokens.get(key);
    if (cached && !fresh) {
      const token = await cached.catch(() => undefined);
      if (token && token.expiresAt > Date.now()) return token.header;
    }
    const pending = this.#requestToken(endpoint, challenge, scopes, subject, signal);
    this.#tokens.set(key, pending);
    pending.catch(() => this.#tokens.delete(key));
    return (await pending).header;
  }

  async headerFor(
    endpoint: Endpoint,
    repository: string,
    subject: string,
    signal?: AbortSignal,
    scope?: ScopeOptions,
  ) {
    const challenge = this.#challenges.get(endpoint.origin);
    if (!challenge) return undefined;
    // A Basic challenge from one repository does not mean every repository needs a login (public and private
    // repositories on one host): without credentials, go anonymously and let a real 401 decide.
    if (challenge.scheme === 'basic' && !(await this.#credentialFor(endpoint))) return undefined;
    return this.#authorize(endpoint, challenge, repository, subject, false, signal, scope);
  }

  async answerChallenge(
    endpoint: Endpoint,
    repository: string,
    wwwAuthenticate: string | undefined,
    subject: string,
    signal?: AbortSignal,
    scope?: ScopeOptions,
  ) {
    const challenge = pickChallenge(parseChallenges(wwwAuthenticate ?? ''));
    if (!challenge) {
      throw new RegistryProtocolError(
        `${endpoint.host} answered 401 without a Basic or Bearer challenge (WWW-Authenticate: ${JSON.stringify(wwwAuthenticate ?? '')})`,
        { subject },
      );
    }
    this.#challenges.set(endpoint.origin, challenge);
    return this.#authorize(endpoint, challenge, repository, subject, true, signal, scope);
  }

  async denied(endpoint: Endpoint, subject: string, status: number) {
    const credential = await this.#credentialFor(endpoint);
    return credential
      ? this.#refused(endpoint, subject, credential, status)
      : this.#missingCredentials(endpoint, subject);
  }
}

export const createAuthenticator = (options: AuthenticatorOptions): Authenticator =>
  new RegistryAuthenticator(options);
