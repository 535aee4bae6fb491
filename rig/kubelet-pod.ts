// What kubelet hands a container, computed from a pod spec: volumes resolved to paths on this machine,
// mounts, environment (downward API, ConfigMaps, $(VAR) expansion), the effective securityContext and argv.
import { chmod, mkdir, mkdtemp, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import { podFieldValue } from './pods/fields.ts';

export interface PodContextOptions {
  /** The node this stand-in plays, for env `valueFrom.fieldRef: spec.nodeName`. Default: the spec's, else `rig-node`. */
  nodeName?: string;
  /** metadata.name and metadata.namespace of the pod, for fieldRefs. Defaults `rig-pod`, `default`. */
  podName?: string;
  namespace?: string;
  /**
   * Node path of a hostPath volume -> the path on this machine that plays it. A key also maps everything
   * under it. An unmapped hostPath is an error: tests never touch the machine's real runtime paths.
   */
  hostPaths?: Record<string, string>;
  /** ConfigMaps by name, for configMap volumes and `configMapKeyRef` / `envFrom.configMapRef`. */
  configMaps?: Record<string, Record<string, string>>;
}

export interface Mount {
  source: string;
  destination: string;
  readOnly: boolean;
}

export const unsupported = (what: string): Error =>
  new Error(`kubelet stand-in: ${what} is not supported; extend rig/kubelet-pod.ts if a test needs it`);

const mapHostPath = (path: string, hostPaths: Record<string, string>): string => {
  const match = Object.keys(hostPaths)
    .filter((key) => path === key || path.startsWith(`${key.replace(/\/$/, '')}/`))
    .sort((a, b) => b.length - a.length)[0];
  if (match === undefined) {
    throw new Error(`hostPath ${path} is not mapped to a rig path: add it to options.hostPaths of runPod`);
  }
  return join(hostPaths[match]!, path.slice(match.length));
};

const checkHostPathType = async (volume: IVolume, source: string): Promise<void> => {
  const type = volume.hostPath?.type ?? '';
  if (type === 'DirectoryOrCreate') {
    await mkdir(source, { recursive: true });
    return;
  }
  if (type === '' || type === 'FileOrCreate') return;
  const info = await stat(source).catch(() => undefined);
  const matches =
    (type === 'Directory' && info?.isDirectory()) ||
    (type === 'File' && info?.isFile()) ||
    (type === 'Socket' && info?.isSocket());
  // kubelet refuses to start the pod when the type does not match; so do we.
  if (!matches) throw new Error(`hostPath volume ${volume.name}: ${source} is not a ${type}`);
};

export const prepareVolumes = async (
  spec: IPodSpec,
  options: PodContextOptions,
  scratchDirs: string[],
): Promise<Map<string, string>> => {
  const sources = new Map<string, string>();
  for (const volume of spec.volumes ?? []) {
    if (volume.hostPath) {
      const source = mapHostPath(volume.hostPath.path, options.hostPaths ?? {});
      await checkHostPathType(volume, source);
      sources.set(volume.name, source);
    } else if (volume.emptyDir) {
      const dir = await mkdtemp('/tmp/airlock-pod-');
      scratchDirs.push(dir);
      // kubelet makes an emptyDir world-writable, so a non-root container can use it too.
      await chmod(dir, 0o777);
      sources.set(volume.name, dir);
    } else if (volume.configMap) {
      const data = options.configMaps?.[volume.configMap.name ?? ''];
      if (!data) {
        throw new Error(`configMap volume ${volume.name}: no ConfigMap ${volume.configMap.name} in options`);
      }
      const dir = await mkdtemp('/tmp/airlock-pod-');
      scratchDirs.push(dir);
      const items = volume.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }));
      for (const item of items) await writeFile(join(dir, item.path), data[item.key] ?? '');
      sources.set(volume.name, dir);
    } else {
      throw unsupported(`volume ${volume.name} (${Object.keys(volume).join(', ')})`);
    }
  }
  return sources;
};

export const resolveMounts = (container: IContainer, sources: Map<string, string>): Mount[] =>
  (container.volumeMounts ?? []).map((mount) => {
    const source = sources.get(mount.name);
    if (!source) throw new Error(`volumeMount ${mount.mountPath}: no volume named ${mount.name}`);
    return {
      source: mount.subPath ? join(source, mount.subPath) : source,
      destination: mount.mountPath,
      readOnly: mount.readOnly ?? false,
    };
  });

// Kubernetes expands $(NAME) in env values, command and args from the env defined before; $$ escapes.
export const expand = (text: string, env: Map<string, string>): string =>
  text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (whole === '$$') return '$';
    return name !== undefined && env.has(name) ? env.get(name)! : whole;
  });

/** Where env values come from: downward-API fields, and the ConfigMaps and Secrets already fetched by name. */
export interface EnvSources {
  /** The pod's namespace, for kubelet's messages. */
  namespace: string;
  /** A downward-API fieldPath's value; undefined when not supported. */
  field(fieldPath: string): string | undefined;
  /** ConfigMap data by name; an absent name is a ConfigMap that does not exist. */
  configMaps: Record<string, Record<string, string>>;
  /** Secret data by name, decoded; an absent name is a Secret that does not exist. */
  secrets: Record<string, Record<string, string>>;
}

/** A container's env that kubelet cannot build: the container waits with CreateContainerConfigError. */
export class EnvConfigError extends Error {
  readonly code = 'CREATE_CONTAINER_CONFIG' as const;
}

interface KeyRef {
  name?: string;
  key: string;
  optional?: boolean;
}

// kubelet's own wording (pkg/kubelet/kubelet_pods.go), which `kubectl describe` users know.
const keyValue = (kind: 'ConfigMap' | 'Secret', ref: KeyRef, sources: EnvSources): string | undefined => {
  const name = ref.name ?? '';
  const data = (kind === 'ConfigMap' ? sources.configMaps : sources.secrets)[name];
  if (!data) {
    if (ref.optional) return undefined;
    throw new EnvConfigError(`${kind.toLowerCase()} "${name}" not found`);
  }
  const value = data[ref.key];
  if (value === undefined && !ref.optional) {
    throw new EnvConfigError(`couldn't find key ${ref.key} in ${kind} ${sources.namespace}/${name}`);
  }
  return value;
};

const envValue = (variable: IEnvVar, sources: EnvSources, env: Map<string, string>): string | undefined => {
  const from = variable.valueFrom;
  if (!from) return expand(variable.value ?? '', env);
  if (from.fieldRef) {
    const value = sources.field(from.fieldRef.fieldPath);
    if (value === undefined) throw unsupported(`env fieldRef ${from.fieldRef.fieldPath}`);
    return value;
  }
  if (from.configMapKeyRef) return keyValue('ConfigMap', from.configMapKeyRef, sources);
  if (from.secretKeyRef) return keyValue('Secret', from.secretKeyRef, sources);
  throw unsupported(`env ${variable.name} valueFrom ${Object.keys(from).join(', ')}`);
};

/** The container's environment as kubelet builds it: envFrom first, then env in order with $(VAR) expansion. */
export const resolveEnvFrom = (container: IContainer, sources: EnvSources): Map<string, string> => {
  const env = new Map<string, string>();
  for (const source of container.envFrom ?? []) {
    const ref = source.configMapRef ?? source.secretRef;
    if (!ref) throw unsupported(`envFrom ${Object.keys(source).join(', ')}`);
    const kind = source.configMapRef ? 'configmap' : 'secret';
    const data = (source.configMapRef ? sources.configMaps : sources.secrets)[ref.name ?? ''];
    if (!data && !ref.optional) throw new EnvConfigError(`${kind} "${ref.name ?? ''}" not found`);
    for (const [key, value] of Object.entries(data ?? {})) env.set(`${source.prefix ?? ''}${key}`, value);
  }
  for (const variable of container.env ?? []) {
    const value = envValue(variable, sources, env);
    if (value !== undefined) env.set(variable.name, value);
  }
  return env;
};

export const resolveEnv = (
  container: IContainer,
  spec: IPodSpec,
  options: PodContextOptions,
): Map<string, string> => {
  const namespace = options.namespace ?? 'default';
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: options.podName ?? 'rig-pod', namespace },
    spec,
  } as const;
  const node = { name: options.nodeName ?? spec.nodeName ?? 'rig-node' };
  return resolveEnvFrom(container, {
    namespace,
    field: (fieldPath) => podFieldValue(pod, node, fieldPath),
    configMaps: options.configMaps ?? {},
    secrets: {},
  });
};

export const effectiveSecurityContext = (spec: IPodSpec, container: IContainer): ISecurityContext => ({
  runAsUser: spec.securityContext?.runAsUser,
  runAsGroup: spec.securityContext?.runAsGroup,
  runAsNonRoot: spec.securityContext?.runAsNonRoot,
  seccompProfile: spec.securityContext?.seccompProfile,
  ...Object.fromEntries(
    Object.entries(container.securityContext ?? {}).filter(([, value]) => value !== undefined),
  ),
});

/** What the container is told to run, as kubelet computes it; undefined keeps the image's entrypoint and cmd. */
export const containerArgv = (container: IContainer, env: Map<string, string>) => ({
  command: container.command?.map((word) => expand(word, env)),
  args: container.args?.map((word) => expand(word, env)),
});
