import { parse } from 'yaml';
import { parseReference } from '../reference/index.ts';
import { isPlainObject, joinPath as join, type Values } from './yaml-file.ts';

/**
 * Image references a workload hands to a program as text rather than in `image:`: a controller's flag naming the
 * image of the pods it will start (an ACME solver, a workflow executor, a config reloader), an env var, a
 * ConfigMap key. Text is full of strings that parse as references (`info`, `redis:6379`), so a string counts only
 * when it also looks like an image.
 */

/** A flag, env var or key whose name says it holds an image: `--executor-image`, `RELOADER_IMAGE`, `defaultImage`. */
export const nameSaysImage = (name: string | undefined): boolean =>
  name !== undefined && /image$/i.test(name);

/** Names that hold addresses or registry prefixes, whose values parse as references but are not images. */
const NOT_AN_IMAGE_NAME =
  /(url|uri|addr|address|host|hosts|endpoint|server|port|listen|bind|proxy|registry|repository|repo|prefix|mirror|domain)$/i;

/**
 * The reference `text` stands for when it looks like an image, else undefined. It must parse and carry a tag or
 * digest; a name that says "image" (`--executor-image`, `RELOADER_IMAGE`) also admits `org/app` or
 * `registry.example.com/app` without one. A tag of digits alone (`svc:8080`, `ns/svc:80`) reads as a port unless a
 * registry host (a dot or a port before the first `/`) or the name says image. Unpinned `domain/name` strings are
 * Kubernetes names as often as images (`--controller-class=k8s.io/ingress-nginx`), so they need the name too.
 * URLs, plain words and values of address-like names never count.
 */
export const imageInText = (text: string, name?: string): string | undefined => {
  const value = text.trim();
  if (value === '' || value.includes('://') || value.includes('{{')) return undefined;
  const bareName = name?.replace(/^-+/, '');
  if (bareName !== undefined && NOT_AN_IMAGE_NAME.test(bareName)) return undefined;
  let parsed: ReturnType<typeof parseReference>;
  try {
    parsed = parseReference(value);
  } catch {
    return undefined;
  }
  const named = nameSaysImage(bareName);
  const slash = value.indexOf('/');
  const firstComponent = slash === -1 ? '' : value.slice(0, slash);
  const registryHost = /[.:]/.test(firstComponent) || firstComponent === 'localhost';
  const pinned = parsed.tag !== undefined || parsed.digest !== undefined;
  if (!pinned) return named && slash !== -1 ? value : undefined;
  if (parsed.digest === undefined && /^\d+$/.test(parsed.tag ?? '')) {
    // `metrics.example.com:9090` and `localhost:8080` are addresses whatever their name says.
    const host = slash === -1 ? (value.split(':')[0] ?? '') : '';
    if (host.includes('.') || host === 'localhost') return undefined;
    if (!registryHost && !named) return undefined;
  }
  return value;
};

/**
 * The images a value holds: one reference, or, under a name that says images (`EXTRA_IMAGES`, `AIRLOCK_IMAGES`),
 * a list of them separated by newlines, spaces or commas, each read as if named in the singular.
 */
export const imagesInValue = (value: string, name: string): string[] => {
  if (!/images$/i.test(name)) {
    const written = imageInText(value, name);
    return written ? [written] : [];
  }
  const singular = name.slice(0, -1);
  return value.split(/[\s,]+/).flatMap((item) => imageInText(item, singular) ?? []);
};

/** One image found in text, and where in its container or ConfigMap. */
export interface TextImage {
  written: string;
  /** `args of container manager: --solver-image (spec.template.spec.containers[0].args[1])` */
  where: string;
}

/** A ConfigMap a workload mounts or reads: all of it, or one key read into an env var. */
export interface ConfigMapUse {
  name: string;
  key?: string;
  /** The env var a `configMapKeyRef` fills: its name can say "image" when the key's does not. */
  envName?: string;
  /** `Deployment/op` */
  by: string;
}

/** `--flag=REF`, `--flag REF` and positional arguments of a container's args or command. */
const imagesInArguments = (list: unknown, label: string, path: string, found: TextImage[]): void => {
  if (!Array.isArray(list)) return;
  for (const [index, argument] of list.entries()) {
    if (typeof argument !== 'string') continue;
    const at = join(path, index);
    if (argument.startsWith('-')) {
      const equals = argument.indexOf('=');
      if (equals === -1) continue;
      const flag = argument.slice(0, equals);
      const written = imageInText(argument.slice(equals + 1), flag);
      if (written) found.push({ written, where: `${label}: ${flag} (${at})` });
      continue;
    }
    const previous = list[index - 1];
    const flag =
      typeof previous === 'string' && previous.startsWith('-') && !previous.includes('=')
        ? previous
        : undefined;
    const written = imageInText(argument, flag);
    if (written) found.push({ written, where: `${label}${flag ? `: ${flag}` : ''} (${at})` });
  }
};

/**
 * The images in a container's args, command and env values, and the ConfigMaps its env reads.
 * `path` is the container's path in the object, `object` the object's `Kind/name`.
 */
export const scanContainerText = (
  container: Values,
  path: string,
  object: string,
): { images: TextImage[]; configMaps: ConfigMapUse[] } => {
  const images: TextImage[] = [];
  const configMaps: ConfigMapUse[] = [];
  const name = typeof container.name === 'string' ? container.name : '?';
  imagesInArguments(container.args, `args of container ${name}`, join(path, 'args'), images);
  imagesInArguments(container.command, `command of container ${name}`, join(path, 'command'), images);
  const env = Array.isArray(container.env) ? container.env : [];
  for (const [index, variable] of env.entries()) {
    if (!isPlainObject(variable) || typeof variable.name !== 'string') continue;
    const at = join(join(path, 'env'), index);
    if (typeof variable.value === 'string') {
      for (const written of imagesInValue(variable.value, variable.name))
        images.push({ written, where: `env of container ${name}: ${variable.name} (${at}.value)` });
    }
    const reference = isPlainObject(variable.valueFrom) ? variable.valueFrom.configMapKeyRef : undefined;
    if (isPlainObject(reference) && typeof reference.name === 'string' && typeof reference.key === 'string') {
      configMaps.push({ name: reference.name, key: reference.key, envName: variable.name, by: object });
    }
  }
  return { images, configMaps };
};

/** A ConfigMap mounted as a volume (plain or projected) or read whole with `envFrom`. */
export const configMapOfNode = (key: string, node: unknown, object: string): ConfigMapUse | undefined => {
  if (key !== 'configMap' && key !== 'configMapRef') return undefined;
  if (!isPlainObject(node) || typeof node.name !== 'string') return undefined;
  return { name: node.name, by: object };
};

/** Strings under keys that say "image" in a config file held by a ConfigMap key (`executor: {image: ...}`). */
const imagesInDocument = (text: string, dataPath: string, found: TextImage[]): void => {
  let document: unknown;
  try {
    document = parse(text);
  } catch {
    return; // not YAML or JSON: a script or a template; only its one-line values are read
  }
  const walk = (node: unknown, path: string, key: string): void => {
    if (Array.isArray(node)) {
      for (const [index, item] of node.entries()) walk(item, join(path, index), key);
      return;
    }
    if (isPlainObject(node)) {
      for (const [childKey, child] of Object.entries(node)) walk(child, join(path, childKey), childKey);
      return;
    }
    if (typeof node !== 'string' || !nameSaysImage(key)) return;
    const written = imageInText(node, key);
    if (written) found.push({ written, where: `${dataPath}: ${path}` });
  };
  walk(document, '', '');
};

/** The images in the data a ConfigMap gives its users: every key, or only the keys they read. */
export const scanConfigMapData = (data: Values, uses: readonly ConfigMapUse[]): TextImage[] => {
  const found: TextImage[] = [];
  const whole = uses.some((use) => use.key === undefined);
  for (const [key, value] of Object.entries(data)) {
    if (typeof value !== 'string') continue;
    const readers = uses.filter((use) => use.key === undefined || use.key === key);
    if (!whole && readers.length === 0) continue;
    const dataPath = `data.${key}`;
    if (value.trim().includes('\n')) {
      imagesInDocument(value, dataPath, found);
      continue;
    }
    const names = [key, ...readers.flatMap((use) => (use.envName ? [use.envName] : []))];
    const written = imageInText(value, names.find(nameSaysImage) ?? key);
    if (written) found.push({ written, where: dataPath });
  }
  return found;
};
