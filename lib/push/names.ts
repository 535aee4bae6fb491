import { AirlockError } from '../errors.ts';
import { DOCKER_HUB, parseReference } from '../reference/index.ts';

/** `--registry HOST[:PORT][/PREFIX]`, split. */
export interface RegistryTarget {
  host: string;
  /** Repository path prefix without slashes at either end; empty for none. */
  prefix: string;
}

/** `--map SOURCE=TARGET`: repositories under SOURCE (`ghcr.io/acme`) go under TARGET (`acme`) instead. */
export interface NameMapping {
  from: string;
  to: string;
}

/** Where one source name lands: a repository of the target registry and the tag or digest it gets. */
export interface TargetName {
  source: string;
  repository: string;
  tag?: string;
  digest?: string;
  /** `HOST/PREFIX/repo:tag` or `HOST/PREFIX/repo@sha256:...`. */
  reference: string;
}

export const parseRegistryTarget = (value: string): RegistryTarget => {
  const trimmed = value
    .trim()
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/+$/, '');
  const [host = '', ...path] = trimmed.split('/');
  const prefix = path.join('/');
  try {
    const reference = parseReference(`${host}/${prefix ? `${prefix}/` : ''}probe`);
    if (reference.domain !== host) throw new Error('no registry host');
  } catch {
    throw new AirlockError(
      'BAD_INPUT',
      `--registry ${JSON.stringify(value)}: expected HOST[:PORT][/PREFIX] with a host that has a dot, a port or is localhost (e.g. registry.local:5000/mirror)`,
    );
  }
  return { host, prefix };
};

export const parseMapping = (value: string): NameMapping => {
  const [from, to, ...rest] = value.split('=');
  if (!from || to === undefined || rest.length > 0) {
    throw new AirlockError(
      'BAD_INPUT',
      `--map ${JSON.stringify(value)}: expected SOURCE=TARGET, e.g. ghcr.io/acme=acme`,
    );
  }
  return { from: from.replace(/\/+$/, ''), to: to.replace(/^\/+|\/+$/g, '') };
};

/** The value for `helm install --set global.imageRegistry=...`: the chart puts it in front of each repository. */
export const imageRegistryValue = (target: RegistryTarget): string =>
  target.prefix ? `${target.host}/${target.prefix}` : target.host;

const underPrefix = (name: string, prefix: string): string | undefined => {
  if (name === prefix) return '';
  return name.startsWith(`${prefix}/`) ? name.slice(prefix.length + 1) : undefined;
};

/**
 * The repository a source repository gets in the target registry: its path without the source registry (as the
 * chart's `global.imageRegistry` replaces the registry and keeps `repository`), Docker Hub's `library/` dropped
 * (charts write `nginx`, not `library/nginx`), unless a `--map` (longest SOURCE first) says otherwise.
 */
export const targetRepository = (
  source: string,
  target: RegistryTarget,
  mappings: readonly NameMapping[],
): string => {
  const reference = parseReference(source);
  const full = `${reference.domain}/${reference.path}`;
  const mapping = [...mappings]
    .sort((a, b) => b.from.length - a.from.length)
    .find((candidate) => underPrefix(full, candidate.from) !== undefined);
  let path: string;
  if (mapping) {
    const rest = underPrefix(full, mapping.from) ?? '';
    path = [mapping.to, rest].filter(Boolean).join('/');
  } else {
    path =
      reference.domain === DOCKER_HUB && reference.path.startsWith('library/')
        ? reference.path.slice('library/'.length)
        : reference.path;
  }
  return [target.prefix, path].filter(Boolean).join('/');
};

export const targetName = (
  source: string,
  target: RegistryTarget,
  mappings: readonly NameMapping[],
): TargetName => {
  const reference = parseReference(source);
  const repository = targetRepository(source, target, mappings);
  const pinned = reference.digest ? `@${reference.digest}` : `:${reference.tag ?? 'latest'}`;
  const text = `${target.host}/${repository}${pinned}`;
  try {
    parseReference(text);
  } catch (error) {
    throw new AirlockError(
      'BAD_INPUT',
      `${source}: maps to ${text}, which is not a valid image reference — adjust --map`,
      {
        cause: error,
      },
    );
  }
  return {
    source,
    repository,
    ...(reference.digest ? { digest: reference.digest } : { tag: reference.tag ?? 'latest' }),
    reference: text,
  };
};
