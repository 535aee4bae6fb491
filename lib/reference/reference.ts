import { AirlockError } from '../errors.ts';

/**
 * An image reference as containerd and Docker understand it (github.com/distribution/reference):
 * `[domain[:port]/]path[:tag][@digest]`. Parsing never guesses: anything the grammar rejects is an error.
 */
export interface ImageReference {
  /** Registry host as written after normalization, e.g. `docker.io`, `ghcr.io`, `127.0.0.1:5000`. */
  domain: string;
  /** Repository path inside the registry, e.g. `library/nginx`, `bitnami/redis`. */
  path: string;
  tag?: string;
  digest?: string;
}

export class InvalidReferenceError extends AirlockError {
  constructor(reference: string, reason: string) {
    super('REFERENCE_INVALID', `${JSON.stringify(reference)}: not a valid image reference: ${reason}`);
    this.name = 'InvalidReferenceError';
  }
}

export const DOCKER_HUB = 'docker.io';
const LEGACY_DOCKER_HUB = new Set(['index.docker.io', 'registry-1.docker.io']);

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;
const MAX_NAME_LENGTH = 255;

const isDomain = (candidate: string): boolean =>
  candidate === 'localhost' || candidate.includes('.') || candidate.includes(':') || /[A-Z]/.test(candidate);

const validDomain = (domain: string): boolean => {
  const ipv6 = /^\[[0-9a-fA-F:]+\](?::\d+)?$/;
  if (ipv6.test(domain)) return true;
  const [host, port, ...extra] = domain.split(':');
  if (extra.length > 0 || host === undefined) return false;
  if (port !== undefined && !/^\d{1,5}$/.test(port)) return false;
  return host.split('.').every((part) => DOMAIN_COMPONENT.test(part));
};

/** Parses a reference and applies Docker's normalization (docker.io, library/), but not the `latest` default. */
export const parseReference = (input: string): ImageReference => {
  const text = input.trim();
  if (text === '') throw new InvalidReferenceError(input, 'empty');
  if (/\s/.test(text)) throw new InvalidReferenceError(input, 'contains white space');

  let remainder = text;
  let digest: string | undefined;
  const at = remainder.indexOf('@');
  if (at !== -1) {
    digest = remainder.slice(at + 1);
    remainder = remainder.slice(0, at);
    if (!DIGEST.test(digest)) throw new InvalidReferenceError(input, `bad digest ${JSON.stringify(digest)}`);
    if (digest.startsWith('sha256:') && !SHA256_DIGEST.test(digest)) {
      throw new InvalidReferenceError(input, 'a sha256 digest has 64 lowercase hex characters');
    }
  }

  // A colon after the last slash separates the tag; one before it belongs to a registry port.
  let tag: string | undefined;
  const lastSlash = remainder.lastIndexOf('/');
  const lastColon = remainder.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = remainder.slice(lastColon + 1);
    remainder = remainder.slice(0, lastColon);
    if (!TAG.test(tag)) throw new InvalidReferenceError(input, `bad tag ${JSON.stringify(tag)}`);
  }

  const slash = remainder.indexOf('/');
  let domain = DOCKER_HUB;
  let path = remainder;
  if (slash !== -1 && isDomain(remainder.slice(0, slash))) {
    domain = remainder.slice(0, slash);
    path = remainder.slice(slash + 1);
  }
  if (!validDomain(domain))
    throw new InvalidReferenceError(input, `bad registry host ${JSON.stringify(domain)}`);
  if (LEGACY_DOCKER_HUB.has(domain)) domain = DOCKER_HUB;
  if (path === '') throw new InvalidReferenceError(input, 'no repository name');
  for (const component of path.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      const hint = /[A-Z]/.test(component) ? ' (repository names must be lowercase)' : '';
      throw new InvalidReferenceError(
        input,
        `bad repository path component ${JSON.stringify(component)}${hint}`,
      );
    }
  }
  if (domain === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  if (`${domain}/${path}`.length > MAX_NAME_LENGTH)
    throw new InvalidReferenceError(input, 'name longer than 255 characters');

  return { domain, path, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
};

/** `docker.io/library/nginx`: the repository name without tag or digest. */
export const repositoryName = (reference: ImageReference): string => `${reference.domain}/${reference.path}`;

/** Fully qualified, as containerd stores names: `docker.io/library/nginx:latest`, `repo:tag@sha256:...`. */
export const formatReference = (reference: ImageReference): string =>
  repositoryName(reference) +
  (reference.tag === undefined ? '' : `:${reference.tag}`) +
  (reference.digest === undefined ? '' : `@${reference.digest}`);

/** Adds `latest` when neither tag nor digest is given, exactly as `docker pull` and kubelet do. */
export const withDefaultTag = (reference: ImageReference): ImageReference =>
  reference.tag === undefined && reference.digest === undefined ? { ...reference, tag: 'latest' } : reference;

/** Parses and fully qualifies: `nginx` -> `docker.io/library/nginx:latest`. */
export const normalizeReference = (input: string): string =>
  formatReference(withDefaultTag(parseReference(input)));

/**
 * The names an image must carry in a runtime for kubelet to find it as the chart writes it:
 * `repo:tag` for tagged references, `repo@digest` for pinned ones (CRI drops the tag of `repo:tag@digest`).
 */
export const runtimeNames = (reference: ImageReference): string[] => {
  const names: string[] = [];
  if (reference.tag !== undefined) names.push(`${repositoryName(reference)}:${reference.tag}`);
  if (reference.digest !== undefined) names.push(`${repositoryName(reference)}@${reference.digest}`);
  if (names.length === 0) names.push(`${repositoryName(reference)}:latest`);
  return names;
};

/** Docker's short form for display and for `docker image inspect`: `nginx:1.25`, `bitnami/redis:7`. */
export const familiarName = (reference: ImageReference): string => {
  let name = repositoryName(reference);
  if (reference.domain === DOCKER_HUB) {
    name = reference.path.startsWith('library/') ? reference.path.slice('library/'.length) : reference.path;
  }
  return (
    name +
    (reference.tag === undefined ? '' : `:${reference.tag}`) +
    (reference.digest === undefined ? '' : `@${reference.digest}`)
  );
};

/** True when kubelet's default pull policy for this reference is Always (`:latest` or no tag, no digest). */
export const pullsByDefault = (reference: ImageReference): boolean =>
  reference.digest === undefined && (reference.tag === undefined || reference.tag === 'latest');

/** The archive file name of the original design: `<repository path with / as _>_<tag>`, safe on any filesystem. */
export const archiveBaseName = (reference: ImageReference): string => {
  const repository =
    reference.domain === DOCKER_HUB ? reference.path.replace(/^library\//, '') : repositoryName(reference);
  const version =
    reference.tag ?? (reference.digest ? reference.digest.replace(':', '-').slice(0, 19) : 'latest');
  return `${repository}_${version}`.replace(/[/:]/g, '_').replace(/[^A-Za-z0-9._-]/g, '-');
};
