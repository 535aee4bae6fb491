import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { AirlockError } from '../errors.ts';
import { run } from '../exec/run.ts';
import { readTextIfExists } from '../files.ts';
import { DOCKER_HUB } from '../reference/index.ts';

/** A login for one registry. `source` says where it came from, for error messages; it never holds the secret. */
export interface Credential {
  username: string;
  password: string;
  /** An OAuth2 refresh token (`identitytoken`, or a helper's `<token>` user), exchanged at the token realm. */
  identityToken?: string;
  /** e.g. `~/.docker/config.json (auths)`, `docker-credential-pass (credsStore in ~/.docker/config.json)`. */
  source: string;
}

export interface CredentialStore {
  /** The login for a registry host (`docker.io`, `ghcr.io`, `127.0.0.1:5000`), or undefined when there is none. */
  lookup(registry: string): Promise<Credential | undefined>;
  /** Where credentials are looked for, for "no credentials were found in ..." messages. */
  readonly location: string;
}

export const DockerConfig = z.looseObject({
  auths: z
    .record(
      z.string(),
      z.looseObject({
        auth: z.string().optional(),
        username: z.string().optional(),
        password: z.string().optional(),
        identitytoken: z.string().optional(),
      }),
    )
    .optional(),
  credHelpers: z.record(z.string(), z.string()).optional(),
  credsStore: z.string().optional(),
});
export type DockerConfig = z.infer<typeof DockerConfig>;

const HelperAnswer = z.looseObject({ Username: z.string(), Secret: z.string() });

/** Docker Hub's historical key: `docker login` still writes it, and helpers are asked with it. */
const DOCKER_HUB_INDEX = 'https://index.docker.io/v1/';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** Same normalization as the Docker CLI: keys may carry a scheme and a path (`https://index.docker.io/v1/`). */
const keyHost = (key: string): string => {
  const host = key.replace(/^[a-z]+:\/\//i, '').split('/')[0] ?? key;
  return DOCKER_HUB_ALIASES.has(host) ? DOCKER_HUB : host;
};

export const dockerConfigPath = (env: NodeJS.ProcessEnv = process.env): string =>
  join(env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');

/** `~/.docker/config.json` rather than `/root/.docker/config.json`: what the operator typed. */
export const displayPath = (path: string): string => {
  const home = homedir();
  return home && path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path;
};

const findKey = <T>(record: Record<string, T> | undefined, registry: string): T | undefined => {
  if (!record) return undefined;
  for (const [key, value] of Object.entries(record)) if (keyHost(key) === registry) return value;
  return undefined;
};

const decodeAuth = (auth: string): { username: string; password: string } | undefined => {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon === -1) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
};

const readConfig = async (path: string): Promise<DockerConfig> => {
  let text: string | undefined;
  try {
    text = await readTextIfExists(path);
  } catch (error) {
    throw new AirlockError('BAD_INPUT', `cannot read Docker config`, {
      subject: displayPath(path),
      cause: error,
    });
  }
  if (text === undefined) return {};
  try {
    return DockerConfig.parse(JSON.parse(text));
  } catch (error) {
    throw new AirlockError(
      'BAD_INPUT',
      `not a valid Docker config file — fix or remove it, then run 'docker login'`,
      { subject: displayPath(path), cause: error },
    );
  }
};

/** Asks `docker-credential-<helper> get`, as the Docker CLI does: server URL on stdin, JSON on stdout. */
const askHelper = async (
  helper: string,
  registry: string,
  source: string,
): Promise<Credential | undefined> => {
  const serverUrl = registry === DOCKER_HUB ? DOCKER_HUB_INDEX : registry;
  let stdout: string;
  try {
    ({ stdout } = await run(`docker-credential-${helper}`, ['get'], { input: serverUrl, timeout: 60_000 }));
  } catch (error) {
    const failure = error as { stderr?: string; message?: string; cause?: { stdout?: unknown } };
    const output = [failure.stderr, failure.message, failure.cause?.stdout].map(String).join('\n');
    // Helpers signal "nothing stored" with exit 1 and this text (docker-credential-helpers' ErrCredentialsNotFound).
    if (/credentials not found/i.test(output)) return undefined;
    throw new AirlockError(
      'AUTH_DENIED',
      `credential helper docker-credential-${helper} failed (${source}) — check that it is installed and logged in`,
      { subject: registry, cause: error },
    );
  }
  let answer: z.infer<typeof HelperAnswer>;
  try {
    answer = HelperAnswer.parse(JSON.parse(stdout));
  } catch (error) {
    throw new AirlockError(
      'AUTH_DENIED',
      `credential helper docker-credential-${helper} printed something that is not credentials (${source})`,
      { subject: registry, cause: error },
    );
  }
  if (answer.Username === '<token>') {
    return { username: '', password: '', identityToken: answer.Secret, source };
  }
  return { username: answer.Username, password: answer.Secret, source };
};

/**
 * Credentials from a Docker config file, resolved like the Docker CLI: `credHelpers[registry]`, then `credsStore`,
 * then `auths` (whose keys may carry a scheme and path). Each answer is looked up once per store.
 */
export const createDockerConfigCredentials = (
  options: { path?: string; env?: NodeJS.ProcessEnv } = {},
): CredentialStore => {
  const path = options.path ?? dockerConfigPath(options.env);
  const shownPath = displayPath(path);
  let config: Promise<DockerConfig> | undefined;
  const answers = new Map<string, Promise<Credential | undefined>>();

  const resolve = async (registry: string): Promise<Credential | undefined> => {
    config ??= readConfig(path);
    const { auths, credHelpers, credsStore } = await config;
    const helper = findKey(credHelpers, registry);
    if (helper)
      return askHelper(helper, registry, `docker-credential-${helper} (credHelpers in ${shownPath})`);
    if (credsStore) {
      const fromStore = await askHelper(
        credsStore,
        registry,
        `docker-credential-${credsStore} (credsStore in ${shownPath})`,
      );
      if (fromStore) return fromStore;
    }
    const entry = findKey(auths, registry);
    if (!entry) return undefined;
    const source = `${shownPath} (auths)`;
    const login = entry.auth
      ? decodeAuth(entry.auth)
      : entry.username !== undefined
        ? { username: entry.username, password: entry.password ?? '' }
        : undefined;
    if (entry.identitytoken) {
      return { username: login?.username ?? '', password: '', identityToken: entry.identitytoken, source };
    }
    return login ? { ...login, source } : undefined;
  };

  return {
    location: shownPath,
    lookup(registry) {
      let answer = answers.get(registry);
      if (!answer) {
        answer = resolve(registry);
        answers.set(registry, answer);
      }
      return answer;
    },
  };
};

/** Fixed logins, for callers that take credentials from somewhere other than a Docker config. */
export const staticCredentials = (
  logins: Record<string, { username: string; password: string }>,
  location = 'the credentials passed in',
): CredentialStore => ({
  location,
  async lookup(registry) {
    const login = logins[registry];
    return login ? { ...login, source: location } : undefined;
  },
});
