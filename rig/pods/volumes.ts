// kubelet's volume set-up for a pod: each volume becomes a directory (or file) on this machine that the CRI
// bind-mounts. hostPath maps into the node's root with kubelet's type checks; the others are written below
// `<root>/var/lib/kubelet/pods/<uid>/volumes`, with kubelet's messages when something is missing.
import { chmod, chown, mkdir, open, stat, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import { podFieldValue } from './fields.ts';
import type { NodeContext } from './types.ts';

/** A volume kubelet could not set up: the pod stays in ContainerCreating, and a FailedMount event says why. */
export class VolumeSetupError extends Error {
  readonly code = 'FAILED_MOUNT' as const;
  readonly volume: string;

  constructor(volume: string, reason: string) {
    super(`MountVolume.SetUp failed for volume "${volume}" : ${reason}`);
    this.volume = volume;
  }
}

export interface PreparedVolume {
  path: string;
  /** ConfigMap, Secret, projected and downwardAPI volumes are mounted read-only whatever the mount says. */
  readOnly: boolean;
}

/** A node path (`/p`) as this machine's path (`<root>/p`); `..` cannot leave the root. */
export const nodePath = (node: NodeContext, path: string): string =>
  join(node.root, posix.resolve('/', path));

export const podDirectory = (node: NodeContext, uid: string): string =>
  join(node.root, 'var', 'lib', 'kubelet', 'pods', uid);

const exists = (path: string) => stat(path).catch(() => undefined);

// kubelet's checks and wording (pkg/volume/hostpath/host_path.go); messages name the node path.
const checkHostPath = async (volume: IVolume, node: NodeContext): Promise<string> => {
  const path = volume.hostPath!.path;
  const source = nodePath(node, path);
  const type = volume.hostPath!.type ?? '';
  const info = await exists(source);
  const fail = (what: string) =>
    new VolumeSetupError(volume.name, `hostPath type check failed: ${path} is not ${what}`);
  if (type === '') return source;
  if (type === 'DirectoryOrCreate' && !info) {
    await mkdir(source, { recursive: true, mode: 0o755 });
    return source;
  }
  if (type === 'FileOrCreate' && !info) {
    if (!(await exists(dirname(source)))) throw fail('a file');
    await (await open(source, 'a', 0o644)).close();
    return source;
  }
  if ((type === 'Directory' || type === 'DirectoryOrCreate') && !info?.isDirectory())
    throw fail('a directory');
  if ((type === 'File' || type === 'FileOrCreate') && !info?.isFile()) throw fail('a file');
  if (type === 'Socket' && !info?.isSocket()) throw fail('a socket file');
  if (type === 'CharDevice' && !info?.isCharacterDevice()) throw fail('a character device');
  if (type === 'BlockDevice' && !info?.isBlockDevice()) throw fail('a block device');
  return source;
};

interface FileItem {
  path: string;
  content: Uint8Array | string;
  mode?: number;
  /** Owner, where kubelet sets one (the token of a pod whose containers all run as one user). */
  uid?: number;
}

const writeItems = async (dir: string, items: FileItem[], defaultMode: number): Promise<void> => {
  await mkdir(dir, { recursive: true });
  for (const item of items) {
    const file = join(dir, posix.normalize(`/${item.path}`));
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, item.content);
    await chmod(file, item.mode ?? defaultMode);
    if (item.uid !== undefined) await chown(file, item.uid, -1);
  }
};

interface KeyItems {
  items?: { key: string; path: string; mode?: number }[];
}

const selectKeys = (
  data: Record<string, Uint8Array | string>,
  source: KeyItems,
  what: string,
): FileItem[] => {
  if (!source.items) return Object.entries(data).map(([key, content]) => ({ path: key, content }));
  return source.items.map((item) => {
    const content = data[item.key];
    if (content === undefined) throw new Error(`configured to use key ${item.key} not present in ${what}`);
    return { path: item.path, content, mode: item.mode };
  });
};

const base64 = (map: Record<string, string> | undefined) =>
  Object.fromEntries(Object.entries(map ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')]));

export interface VolumeContext {
  pod: IPod;
  node: NodeContext;
  namespace: string;
}

const configMapItems = async (
  ctx: VolumeContext,
  source: KeyItems & { name?: string; optional?: boolean },
) => {
  const found = await ctx.node.resolver.configMap(ctx.namespace, source.name ?? '');
  if (!found) {
    if (source.optional) return [];
    throw new Error(`configmap "${source.name ?? ''}" not found`);
  }
  const data = { ...found.data, ...base64(found.binaryData) };
  return selectKeys(data, source, `configmap ${ctx.namespace}/${source.name}`);
};

const secretItems = async (
  ctx: VolumeContext,
  source: KeyItems & { secretName?: string; name?: string; optional?: boolean },
) => {
  const name = source.secretName ?? source.name ?? '';
  const found = await ctx.node.resolver.secret(ctx.namespace, name);
  if (!found) {
    if (source.optional) return [];
    throw new Error(`secret "${name}" not found`);
  }
  return selectKeys(
    { ...base64(found.data), ...found.stringData },
    source,
    `secret ${ctx.namespace}/${name}`,
  );
};

const downwardItems = (
  ctx: VolumeContext,
  items: { path: string; mode?: number; fieldRef?: { fieldPath: string } }[],
) =>
  items.map((item) => {
    const fieldPath = item.fieldRef?.fieldPath;
    const value = fieldPath === undefined ? undefined : podFieldValue(ctx.pod, ctx.node, fieldPath);
    if (value === undefined)
      throw new Error(`downwardAPI item ${item.path}: only fieldRef is supported here`);
    return { path: item.path, content: value, mode: item.mode };
  });

const sharedRunAsUser = (pod: IPod): number | undefined => {
  const spec = pod.spec;
  const users = new Set(
    [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].map(
      (container) => container.securityContext?.runAsUser ?? spec?.securityContext?.runAsUser,
    ),
  );
  const [only] = users;
  return users.size === 1 ? only : undefined;
};

const projectedItems = async (ctx: VolumeContext, volume: IVolume): Promise<FileItem[]> => {
  const items: FileItem[] = [];
  for (const source of volume.projected?.sources ?? []) {
    if (source.configMap) items.push(...(await configMapItems(ctx, source.configMap)));
    if (source.secret) items.push(...(await secretItems(ctx, source.secret)));
    if (source.downwardAPI) items.push(...downwardItems(ctx, source.downwardAPI.items ?? []));
    const token = source.serviceAccountToken;
    if (token) {
      const { metadata = {}, spec } = ctx.pod;
      const content = await ctx.node.resolver.serviceAccountToken({
        namespace: ctx.namespace,
        serviceAccountName: spec?.serviceAccountName ?? spec?.serviceAccount ?? 'default',
        audience: token.audience,
        expirationSeconds: token.expirationSeconds,
        podName: metadata.name ?? '',
        podUid: metadata.uid ?? '',
      });
      // kubelet's projected token: 0600 and owned by the pods' user when every container runs as the same
      // one, else the volume's defaultMode, so a non-root container can read it either way.
      const uid = sharedRunAsUser(ctx.pod);
      items.push(
        uid === undefined
          ? { path: token.path, content, mode: volume.projected?.defaultMode ?? 0o644 }
          : { path: token.path, content, mode: 0o600, uid },
      );
    }
  }
  return items;
};

const setUpVolume = async (ctx: VolumeContext, volume: IVolume, podDir: string): Promise<PreparedVolume> => {
  if (volume.hostPath) return { path: await checkHostPath(volume, ctx.node), readOnly: false };
  const dir = (plugin: string) => join(podDir, 'volumes', `kubernetes.io~${plugin}`, volume.name);
  if (volume.emptyDir) {
    const path = dir('empty-dir');
    await mkdir(path, { recursive: true });
    // kubelet makes an emptyDir world-writable (with the sticky bit), so a non-root container can use it.
    await chmod(path, 0o1777);
    return { path, readOnly: false };
  }
  const written = async (plugin: string, items: FileItem[], defaultMode?: number) => {
    await writeItems(dir(plugin), items, defaultMode ?? 0o644);
    return { path: dir(plugin), readOnly: true };
  };
  if (volume.configMap)
    return written('configmap', await configMapItems(ctx, volume.configMap), volume.configMap.defaultMode);
  if (volume.secret)
    return written('secret', await secretItems(ctx, volume.secret), volume.secret.defaultMode);
  if (volume.projected)
    return written('projected', await projectedItems(ctx, volume), volume.projected.defaultMode);
  if (volume.downwardAPI) {
    return written(
      'downward-api',
      downwardItems(ctx, volume.downwardAPI.items ?? []),
      volume.downwardAPI.defaultMode,
    );
  }
  throw new Error(
    `volume type ${Object.keys(volume)
      .filter((key) => key !== 'name')
      .join(', ')} is not supported by this node`,
  );
};

/** Sets up every volume of the pod; the first failure is a VolumeSetupError naming the volume. */
export const setUpVolumes = async (
  ctx: VolumeContext,
  podDir: string,
): Promise<Map<string, PreparedVolume>> => {
  const volumes = new Map<string, PreparedVolume>();
  for (const volume of ctx.pod.spec?.volumes ?? []) {
    try {
      volumes.set(volume.name, await setUpVolume(ctx, volume, podDir));
    } catch (error) {
      if (error instanceof VolumeSetupError) throw error;
      throw new VolumeSetupError(volume.name, (error as Error).message);
    }
  }
  return volumes;
};
