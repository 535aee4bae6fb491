// A pod spec's container as kubelet hands it to the CRI: env from the downward API, ConfigMaps and Secrets
// (fetched through the node's resolver), $(VAR)-expanded command and args, bind mounts of the prepared
// volumes, and the effective securityContext as a LinuxContainerSecurityContext.
import { posix } from 'node:path';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import type {
  ContainerConfig,
  CriImage,
  CriMount,
  LinuxContainerSecurityContext,
  SecurityProfile,
} from '../cri-types.ts';
import {
  containerArgv,
  EnvConfigError,
  type EnvSources,
  effectiveSecurityContext,
  resolveEnvFrom,
} from '../kubelet-pod.ts';
import { podFieldValue } from './fields.ts';
import type { NodeContext } from './types.ts';
import type { PreparedVolume } from './volumes.ts';

export interface ContainerContext {
  pod: IPod;
  node: NodeContext;
  namespace: string;
  volumes: Map<string, PreparedVolume>;
}

const referencedNames = (container: IContainer) => {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef?.name) configMaps.add(source.configMapRef.name);
    if (source.secretRef?.name) secrets.add(source.secretRef.name);
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (from?.configMapKeyRef?.name) configMaps.add(from.configMapKeyRef.name);
    if (from?.secretKeyRef?.name) secrets.add(from.secretKeyRef.name);
  }
  return { configMaps, secrets };
};

const envSources = async (ctx: ContainerContext, container: IContainer): Promise<EnvSources> => {
  const { configMaps, secrets } = referencedNames(container);
  const sources: EnvSources = {
    namespace: ctx.namespace,
    field: (fieldPath) => podFieldValue(ctx.pod, ctx.node, fieldPath),
    configMaps: {},
    secrets: {},
  };
  for (const name of configMaps) {
    const found = await ctx.node.resolver.configMap(ctx.namespace, name);
    if (found) sources.configMaps[name] = found.data ?? {};
  }
  for (const name of secrets) {
    const found = await ctx.node.resolver.secret(ctx.namespace, name);
    if (!found) continue;
    const decoded = Object.entries(found.data ?? {}).map(([key, value]) => [
      key,
      Buffer.from(value, 'base64').toString(),
    ]);
    sources.secrets[name] = { ...Object.fromEntries(decoded), ...found.stringData };
  }
  return sources;
};

const mounts = (ctx: ContainerContext, container: IContainer): CriMount[] =>
  (container.volumeMounts ?? []).map((mount) => {
    const volume = ctx.volumes.get(mount.name);
    if (!volume)
      throw new EnvConfigError(
        `cannot find volume "${mount.name}" to mount into container "${container.name}"`,
      );
    return {
      containerPath: mount.mountPath,
      hostPath: mount.subPath ? posix.join(volume.path, posix.normalize(`/${mount.subPath}`)) : volume.path,
      readonly: (mount.readOnly ?? false) || volume.readOnly,
    };
  });

const seccomp = (profile: ISecurityContext['seccompProfile']): SecurityProfile => {
  if (profile?.type === 'RuntimeDefault') return { profileType: 'RuntimeDefault' };
  if (profile?.type === 'Localhost')
    return { profileType: 'Localhost', localhostRef: profile.localhostProfile ?? '' };
  // kubelet sends Unconfined when neither the pod nor the container names a profile.
  return { profileType: 'Unconfined' };
};

const int64 = (value: number | undefined) => (value === undefined ? undefined : { value });

/** kubelet's determineEffectiveSecurityContext + convertToRuntimeSecurityContext. */
export const linuxSecurityContext = (pod: IPod, container: IContainer): LinuxContainerSecurityContext => {
  const spec = pod.spec!;
  const effective = effectiveSecurityContext(spec, container);
  const podContext = spec.securityContext;
  const groups = [
    ...(podContext?.supplementalGroups ?? []),
    ...(podContext?.fsGroup === undefined ? [] : [podContext.fsGroup]),
  ];
  return {
    capabilities: {
      addCapabilities: effective.capabilities?.add ?? [],
      dropCapabilities: effective.capabilities?.drop ?? [],
    },
    privileged: effective.privileged ?? false,
    namespaceOptions: {
      network: 'NODE',
      pid: spec.hostPID ? 'NODE' : spec.shareProcessNamespace ? 'POD' : 'CONTAINER',
      ipc: spec.hostIPC ? 'NODE' : 'POD',
    },
    runAsUser: int64(effective.runAsUser),
    runAsGroup: int64(effective.runAsGroup),
    readonlyRootfs: effective.readOnlyRootFilesystem ?? false,
    supplementalGroups: groups,
    // Unset allowPrivilegeEscalation leaves no_new_privs off, as kubelet's AddNoNewPrivileges does.
    noNewPrivs: effective.allowPrivilegeEscalation === false,
    seccomp: seccomp(effective.seccompProfile),
  };
};

/** kubelet's verifyRunAsNonRoot, with its messages; `image` is the CRI's view of the container's image. */
export const verifyRunAsNonRoot = (pod: IPod, container: IContainer, image: CriImage): void => {
  const effective = effectiveSecurityContext(pod.spec!, container);
  if (!effective.runAsNonRoot) return;
  const podRef = `${pod.metadata?.name}_${pod.metadata?.namespace ?? 'default'}(${pod.metadata?.uid})`;
  const where = `(pod: "${podRef}", container: ${container.name})`;
  if (effective.runAsUser !== undefined) {
    if (effective.runAsUser === 0)
      throw new EnvConfigError(`container's runAsUser breaks non-root policy ${where}`);
    return;
  }
  if (image.uid && image.uid.value !== '0') return;
  if (!image.uid && image.username) {
    throw new EnvConfigError(
      `container has runAsNonRoot and image has non-numeric user (${image.username}), cannot verify user is non-root ${where}`,
    );
  }
  throw new EnvConfigError(`container has runAsNonRoot and image will run as root ${where}`);
};

export interface ContainerIdentity {
  /** The reference kubelet resolved (the CRI image ID). */
  image: string;
  attempt: number;
  init: boolean;
}

/** The CRI ContainerConfig for `container`; EnvConfigError when kubelet would report CreateContainerConfigError. */
export const containerConfig = async (
  ctx: ContainerContext,
  container: IContainer,
  identity: ContainerIdentity,
): Promise<ContainerConfig> => {
  const env = new Map([
    ...Object.entries(ctx.node.serviceEnv ?? {}),
    ...resolveEnvFrom(container, await envSources(ctx, container)),
  ]);
  const { command, args } = containerArgv(container, env);
  const { metadata = {} } = ctx.pod;
  return {
    metadata: { name: container.name, attempt: identity.attempt },
    image: { image: identity.image },
    command: command ?? [],
    args: args ?? [],
    workingDir: container.workingDir ?? '',
    envs: [...env].map(([key, value]) => ({ key, value })),
    mounts: mounts(ctx, container),
    labels: {
      'io.kubernetes.container.name': container.name,
      'io.kubernetes.pod.name': metadata.name ?? '',
      'io.kubernetes.pod.namespace': ctx.namespace,
      'io.kubernetes.pod.uid': metadata.uid ?? '',
    },
    annotations: {
      'io.kubernetes.container.restartCount': String(identity.attempt),
      'io.kubernetes.container.terminationMessagePath':
        container.terminationMessagePath ?? '/dev/termination-log',
      'io.airlock.container.init': String(identity.init),
    },
    logPath: posix.join(container.name, `${identity.attempt}.log`),
    linux: { securityContext: linuxSecurityContext(ctx.pod, container) },
  };
};
