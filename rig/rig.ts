import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AirlockError } from '../lib/errors.ts';
import { unmountBelow } from './cleanup.ts';
import { type RigContainerd, startContainerd } from './containerd.ts';
import { type RigDocker, startDockerd } from './dockerd.ts';
import { ensureHelm } from './helm.ts';
import { generateCredentials, type RigAuthRegistry, type RigRegistry, startRegistry } from './registry.ts';
import type { RigInfo } from './types.ts';
import { makeRigDir } from './workdir.ts';

export type RigComponent = 'registry' | 'authRegistry' | 'containerd' | 'docker' | 'helm';

export const ALL_COMPONENTS = [
  'registry',
  'authRegistry',
  'containerd',
  'docker',
  'helm',
] as const satisfies readonly RigComponent[];

export interface Rig<Info extends Partial<RigInfo> = RigInfo> {
  /** Plain data, safe to hand to vitest's `provide` or to print. */
  info: Info;
  /** Milliseconds each component took from start to ready. */
  startupMs: Partial<Record<RigComponent, number>>;
  /** Stops every component and removes the work directory. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartRigOptions<C extends RigComponent> {
  /** Only these components (docker brings containerd along); all of them when absent. */
  components?: readonly C[];
}

type Stoppable = { stop(): Promise<void> };

const timed = async <T>(work: () => Promise<T>, record: (ms: number) => void): Promise<T> => {
  const started = performance.now();
  const result = await work();
  record(Math.round(performance.now() - started));
  return result;
};

const registryInfo = ({ host, url, version }: RigRegistry): RigInfo['registry'] => ({ host, url, version });
const authRegistryInfo = (registry: RigAuthRegistry): RigInfo['authRegistry'] => ({
  ...registryInfo(registry),
  username: registry.username,
  password: registry.password,
});
const containerdInfo = ({
  address,
  root,
  state,
  version,
  snapshotter,
}: RigContainerd): RigInfo['containerd'] => ({
  address,
  root,
  state,
  version,
  snapshotter,
});
const dockerInfo = ({ host, socket, version, storageDriver }: RigDocker): RigInfo['docker'] => ({
  host,
  socket,
  version,
  storageDriver,
});

const stopAll = async (workDir: string, docker: Stoppable[], others: Stoppable[]): Promise<void> => {
  // dockerd first: it stops its containers through the rig's containerd.
  const results = await Promise.allSettled(docker.map((component) => component.stop()));
  results.push(...(await Promise.allSettled(others.map((component) => component.stop()))));
  await unmountBelow(workDir).catch(() => undefined);
  await rm(workDir, { recursive: true, force: true, maxRetries: 3 });
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
  if (failures.length > 0) {
    throw new AirlockError(
      'COMMAND_FAILED',
      `rig teardown: ${failures.length} component(s) did not stop cleanly`,
      {
        cause: failures.length === 1 ? failures[0] : new AggregateError(failures),
      },
    );
  }
};

/**
 * Starts the real components the tests, the demo and the benchmark run against, each private to this run:
 * its own temp directory (/tmp/ar-*), loopback ports and sockets. Components start in parallel (dockerd after
 * the containerd it runs on); when one fails, the ones already up are stopped before the error is thrown.
 */
export function startRig(): Promise<Rig<RigInfo>>;
export function startRig<C extends RigComponent>(
  options: StartRigOptions<C>,
): Promise<Rig<Pick<RigInfo, 'workDir' | C>>>;
export async function startRig(options: StartRigOptions<RigComponent> = {}): Promise<Rig<Partial<RigInfo>>> {
  const wanted = new Set<RigComponent>(options.components ?? ALL_COMPONENTS);
  if (wanted.has('docker')) wanted.add('containerd');
  const workDir = await makeRigDir();
  const info: Partial<RigInfo> = { workDir };
  const startupMs: Rig['startupMs'] = {};
  const dockerStarted: Stoppable[] = [];
  const othersStarted: Stoppable[] = [];
  const measure = (component: RigComponent) => (ms: number) => {
    startupMs[component] = ms;
  };

  const starts: Promise<void>[] = [];
  if (wanted.has('registry')) {
    starts.push(
      timed(() => startRegistry({ dir: workDir }), measure('registry')).then((registry) => {
        othersStarted.push(registry);
        info.registry = registryInfo(registry);
      }),
    );
  }
  if (wanted.has('authRegistry')) {
    starts.push(
      timed(
        () => startRegistry({ dir: workDir, basicAuth: generateCredentials() }),
        measure('authRegistry'),
      ).then((registry) => {
        othersStarted.push(registry);
        info.authRegistry = authRegistryInfo(registry);
      }),
    );
  }
  if (wanted.has('containerd')) {
    starts.push(
      (async () => {
        const containerd = await timed(
          () => startContainerd({ dir: join(workDir, 'ctd') }),
          measure('containerd'),
        );
        othersStarted.push(containerd);
        info.containerd = containerdInfo(containerd);
        if (!wanted.has('docker')) return;
        const docker = await timed(
          () => startDockerd({ dir: join(workDir, 'dkr'), containerdAddress: containerd.address }),
          measure('docker'),
        );
        dockerStarted.push(docker);
        info.docker = dockerInfo(docker);
      })(),
    );
  }
  if (wanted.has('helm')) {
    starts.push(
      timed(ensureHelm, measure('helm')).then((helm) => {
        info.helm = helm;
      }),
    );
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= stopAll(workDir, dockerStarted, othersStarted);
    return stopping;
  };
  const results = await Promise.allSettled(starts);
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
  if (failures.length > 0) {
    await stop().catch(() => undefined);
    if (failures.length === 1) throw failures[0];
    throw new AirlockError(
      'COMMAND_FAILED',
      `rig: ${failures.length} components failed to start:\n${failures.map((failure) => String(failure?.message ?? failure)).join('\n')}`,
      { cause: new AggregateError(failures) },
    );
  }
  return { info, startupMs, stop };
}

const seconds = (ms: number | undefined): string =>
  ms === undefined ? '' : ` (ready in ${(ms / 1000).toFixed(1)} s)`;

/** One line per component with its name, version and address, for a run's log. */
export const describeRig = (info: Partial<RigInfo>, startupMs: Rig['startupMs'] = {}): string => {
  const lines = [`workDir: ${info.workDir}`];
  if (info.registry) {
    lines.push(
      `registry: distribution ${info.registry.version} at ${info.registry.host}${seconds(startupMs.registry)}`,
    );
  }
  if (info.authRegistry) {
    const { version, host, username } = info.authRegistry;
    lines.push(
      `authRegistry: distribution ${version} at ${host}, htpasswd basic auth as ${username}${seconds(startupMs.authRegistry)}`,
    );
  }
  if (info.containerd) {
    const { version, address, snapshotter } = info.containerd;
    lines.push(
      `containerd: containerd ${version} at ${address}, CRI on, snapshotter ${snapshotter}${seconds(startupMs.containerd)}`,
    );
  }
  if (info.docker) {
    const { version, host, storageDriver } = info.docker;
    lines.push(`docker: dockerd ${version} at ${host}, storage ${storageDriver}${seconds(startupMs.docker)}`);
  }
  if (info.helm) {
    const { v3, v4 } = info.helm;
    lines.push(`helm: ${v3.version} at ${v3.path}; ${v4.version} at ${v4.path}${seconds(startupMs.helm)}`);
  }
  return lines.join('\n');
};
