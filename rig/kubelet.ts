// A stand-in for kubelet: runs the container of a rendered pod spec (a hook Job's `spec.template.spec`) on the
// rig's containerd (`ctr run`) or dockerd (`docker run`) with what kubelet would give it: the image's entrypoint
// unless `command` replaces it, env with downward-API fields, hostPath and emptyDir mounts, a read-only root.
// No pulls, like `imagePullPolicy: IfNotPresent` on an air-gapped node: a missing image is an error.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { posix } from 'node:path';
import { execa } from 'execa';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import { run } from '../lib/exec/run.ts';
import { normalizeReference } from '../lib/reference/index.ts';
import { imageRuntimeConfig, imageStatus } from './cri.ts';
import {
  containerArgv,
  effectiveSecurityContext,
  type Mount,
  type PodContextOptions,
  prepareVolumes,
  resolveEnv,
  resolveMounts,
  unsupported,
} from './kubelet-pod.ts';
import type { RigInfo } from './types.ts';

export type PodRuntime = 'containerd' | 'docker';

export interface RunPodOptions extends PodContextOptions {
  runtime: PodRuntime;
  /** Milliseconds before the container is killed. Default 5 minutes. */
  timeout?: number;
}

export interface PodResult {
  exitCode: number;
  /** stdout and stderr, interleaved as `kubectl logs` shows them. */
  logs: string;
}

// The capabilities ctr gives a container; `--cap-drop` there takes names, not `ALL`.
const CTR_DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Everything but the image that both runtimes are told, computed once from the pod spec. */
interface Launch {
  id: string;
  env: Map<string, string>;
  mounts: Mount[];
  security: ISecurityContext;
}

const withCapPrefix = (name: string): string => (name.startsWith('CAP_') ? name : `CAP_${name}`);

const ctrArguments = async (
  rig: Pick<RigInfo, 'containerd'>,
  container: IContainer,
  launch: Launch,
): Promise<string[]> => {
  const { id, env, mounts, security } = launch;
  // kubelet asks the CRI whether the image is there; ctr needs the name the CRI found it under.
  const reference = normalizeReference(container.image ?? '');
  const status = await imageStatus(rig.containerd.address, reference);
  if (!status.found) {
    throw new Error(`image ${container.image} is not present in containerd (k8s.io): kubelet would pull`);
  }
  const names = [...status.repoTags, ...status.repoDigests];
  const image = names.includes(reference) ? reference : names[0]!;
  if ((security.runAsUser ?? 0) !== 0 || (security.runAsGroup ?? 0) !== 0) {
    throw unsupported('runAsUser/runAsGroup other than 0 with ctr 1.6');
  }
  const { command, args } = containerArgv(container, env);
  const entrypoint =
    command ?? (args ? ((await imageRuntimeConfig(rig.containerd.address, image)).Entrypoint ?? []) : []);
  const added = (security.capabilities?.add ?? []).map(withCapPrefix);
  const dropped = (security.capabilities?.drop ?? []).flatMap((name) =>
    name === 'ALL' ? CTR_DEFAULT_CAPABILITIES.filter((cap) => !added.includes(cap)) : [withCapPrefix(name)],
  );
  return [
    ...['--address', rig.containerd.address, '-n', 'k8s.io', 'run', '--rm', '--net-host'],
    ...(security.readOnlyRootFilesystem ? ['--read-only'] : []),
    ...(security.privileged ? ['--privileged'] : []),
    ...(security.allowPrivilegeEscalation ? ['--allow-new-privs'] : []),
    ...(security.seccompProfile?.type === 'RuntimeDefault' ? ['--seccomp'] : []),
    ...added.flatMap((cap) => ['--cap-add', cap]),
    ...dropped.flatMap((cap) => ['--cap-drop', cap]),
    ...(container.workingDir ? ['--cwd', container.workingDir] : []),
    ...[...env].flatMap(([name, value]) => ['--env', `${name}=${value}`]),
    ...mounts.flatMap((mount) => [
      '--mount',
      `type=bind,src=${mount.source},dst=${mount.destination},options=rbind:${mount.readOnly ? 'ro' : 'rw'}`,
    ]),
    image,
    id,
    ...(command || args ? [...entrypoint, ...(args ?? [])] : []),
  ];
};

const dockerArguments = (rig: Pick<RigInfo, 'docker'>, container: IContainer, launch: Launch): string[] => {
  const { id, env, mounts, security } = launch;
  const { command, args } = containerArgv(container, env);
  const user = security.runAsUser ?? security.runAsGroup;
  return [
    ...['-H', rig.docker.host, 'run', '--rm', '--name', id, '--network', 'host'],
    ...(security.readOnlyRootFilesystem ? ['--read-only'] : []),
    ...(security.privileged ? ['--privileged'] : []),
    ...(security.allowPrivilegeEscalation === false ? ['--security-opt', 'no-new-privileges'] : []),
    ...(security.seccompProfile?.type === 'Unconfined' ? ['--security-opt', 'seccomp=unconfined'] : []),
    ...(user === undefined ? [] : ['--user', `${security.runAsUser ?? 0}:${security.runAsGroup ?? 0}`]),
    ...(security.capabilities?.drop ?? []).flatMap((cap) => ['--cap-drop', cap]),
    ...(security.capabilities?.add ?? []).flatMap((cap) => ['--cap-add', cap]),
    ...(container.workingDir ? ['--workdir', container.workingDir] : []),
    ...[...env].flatMap(([name, value]) => ['--env', `${name}=${value}`]),
    ...mounts.flatMap((mount) => [
      '-v',
      `${mount.source}:${mount.destination}:${mount.readOnly ? 'ro' : 'rw'}`,
    ]),
    // Docker clears the image's CMD when --entrypoint is given, as kubelet ignores it when command is set.
    ...(command ? ['--entrypoint', command[0] ?? ''] : []),
    container.image ?? '',
    ...(command?.slice(1) ?? []),
    ...(args ?? []),
  ];
};

// A killed `ctr run --rm` or `docker run --rm` can leave its container behind.
const removeContainer = async (
  rig: Pick<RigInfo, 'containerd' | 'docker'>,
  runtime: PodRuntime,
  id: string,
) => {
  const quietly = (file: string, args: string[]) => run(file, args).catch(() => undefined);
  if (runtime === 'docker') {
    await quietly('docker', ['-H', rig.docker.host, 'rm', '-f', id]);
    return;
  }
  const ctr = ['--address', rig.containerd.address, '-n', 'k8s.io'];
  await quietly('ctr', [...ctr, 'tasks', 'kill', '-s', 'SIGKILL', id]);
  await quietly('ctr', [...ctr, 'tasks', 'delete', '-f', id]);
  await quietly('ctr', [...ctr, 'containers', 'delete', id]);
};

/** Runs the pod's only container to completion the way kubelet would and returns its exit code and logs. */
export const runPod = async (
  rig: Pick<RigInfo, 'containerd' | 'docker'>,
  spec: IPodSpec,
  options: RunPodOptions,
): Promise<PodResult> => {
  if (spec.initContainers?.length) throw unsupported('initContainers');
  const [container, ...others] = spec.containers;
  if (!container || others.length > 0) throw unsupported(`a pod with ${spec.containers.length} containers`);
  const scratchDirs: string[] = [];
  const id = `airlock-pod-${randomBytes(6).toString('hex')}`;
  try {
    const sources = await prepareVolumes(spec, options, scratchDirs);
    const mounts = resolveMounts(container, sources);
    for (const mount of mounts) {
      if (!posix.isAbsolute(mount.destination)) {
        throw new Error(`mountPath ${mount.destination} is not absolute`);
      }
    }
    const launch: Launch = {
      id,
      env: resolveEnv(container, spec, options),
      mounts,
      security: effectiveSecurityContext(spec, container),
    };
    const [file, args] =
      options.runtime === 'docker'
        ? ['docker', dockerArguments(rig, container, launch)]
        : ['ctr', await ctrArguments(rig, container, launch)];
    const timeout = options.timeout ?? 5 * 60_000;
    const result = await execa(file, args, { all: true, reject: false, stdin: 'ignore', timeout });
    if (result.timedOut) {
      throw new Error(`pod ${id} (${container.image}) did not finish within ${timeout} ms:\n${result.all}`);
    }
    if (result.exitCode === undefined) throw new Error(`${file} ${args.join(' ')}: ${result.message}`);
    return { exitCode: result.exitCode, logs: String(result.all ?? '') };
  } finally {
    await removeContainer(rig, options.runtime, id);
    for (const dir of scratchDirs) await rm(dir, { recursive: true, force: true });
  }
};
