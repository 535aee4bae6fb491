/**
 * A local multi-node Kubernetes stand-in (contract 3): an API server on loopback that Helm 3, Helm 4 and
 * kubectl accept, controllers, and one kubelet per node running pods through CRI on the node's containerd.
 *
 * - `startCluster({ dir, nodes })` starts the daemon (pid in DIR/daemon.pid, log DIR/cluster.log) and returns
 *   once nodes `node-1`…`node-N` are Ready; DIR/kubeconfig points kubectl and Helm at it.
 * - `clusterStatus(dir)`, `addNode(dir, name)`, `downNode(dir, name)`, `stopCluster(dir)`.
 * Node X's hostPath `/p` is `DIR/nodes/X/p`; its containerd socket `DIR/nodes/X/run/containerd/containerd.sock`.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { AirlockError } from '../../lib/errors.ts';
import { killProcessesMentioning, unmountBelow } from '../cleanup.ts';
import { lastLogLines } from '../daemon.ts';
import { bundleDaemon } from './bundle.ts';
import { ControlError, controlRequest } from './control.ts';
import { controlSocket, daemonLog, pidFile } from './paths.ts';
import { ClusterStatus } from './status.ts';

export type { ClusterStatus } from './status.ts';

export interface StartClusterOptions {
  dir: string;
  nodes: number;
  /** Milliseconds to wait for every node to be Ready. Default 120 s. */
  timeout?: number;
}

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

export const clusterStatus = async (dir: string): Promise<ClusterStatus> =>
  ClusterStatus.parse(await controlRequest(resolve(dir), 'GET', '/status', 10_000));

const running = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const waitUntilReady = async (
  dir: string,
  pid: number,
  nodes: number,
  timeout: number,
): Promise<ClusterStatus> => {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (!running(pid)) {
      throw new AirlockError(
        'COMMAND_FAILED',
        `cluster daemon in ${dir} exited; ${daemonLog(dir)} ends with:\n${await lastLogLines(daemonLog(dir))}`,
      );
    }
    const status = await clusterStatus(dir).catch(() => undefined);
    if (status && status.nodes.length === nodes && status.nodes.every((node) => node.ready)) return status;
    if (Date.now() > deadline) {
      await stopCluster(dir);
      throw new AirlockError(
        'TIMEOUT',
        `cluster in ${dir}: nodes not Ready within ${timeout} ms; ${daemonLog(dir)} ends with:\n${await lastLogLines(daemonLog(dir))}`,
      );
    }
    await sleep(200);
  }
};

export const startCluster = async (options: StartClusterOptions): Promise<ClusterStatus> => {
  const dir = resolve(options.dir);
  if (!Number.isInteger(options.nodes) || options.nodes < 1) {
    throw new AirlockError(
      'BAD_INPUT',
      `cluster up: --nodes must be a whole number of at least 1, not ${options.nodes}`,
    );
  }
  await mkdir(dir, { recursive: true });
  if (
    await clusterStatus(dir).then(
      () => true,
      () => false,
    )
  ) {
    throw new AirlockError(
      'BAD_INPUT',
      `cluster up: a cluster already runs in ${dir} — run 'npm run cluster -- down --dir ${dir}' first`,
    );
  }
  const log = openSync(daemonLog(dir), 'a');
  const entry = await bundleDaemon(dir);
  const child = spawn(process.execPath, ['--max-semi-space-size=1', entry, dir, String(options.nodes)], {
    cwd: projectRoot,
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  child.unref();
  const pid = child.pid ?? 0;
  await writeFile(pidFile(dir), `${pid}\n`);
  return waitUntilReady(dir, pid, options.nodes, options.timeout ?? 120_000);
};

export const addNode = async (dir: string, name: string): Promise<ClusterStatus> =>
  ClusterStatus.parse(await controlRequest(resolve(dir), 'POST', `/nodes/${encodeURIComponent(name)}/add`));

export const downNode = async (dir: string, name: string): Promise<ClusterStatus> =>
  ClusterStatus.parse(await controlRequest(resolve(dir), 'POST', `/nodes/${encodeURIComponent(name)}/down`));

const daemonPid = async (dir: string): Promise<number | undefined> => {
  const text = await readFile(pidFile(dir), 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return pid > 0 ? pid : undefined;
};

/** Stops the daemon and everything it started (containerds, shims, mounts); safe when nothing runs. */
export const stopCluster = async (dir: string): Promise<void> => {
  const root = resolve(dir);
  const pid = await daemonPid(root);
  try {
    await controlRequest(root, 'POST', '/shutdown', 60_000);
  } catch (error) {
    if (!(error instanceof ControlError)) throw error;
  }
  for (let waited = 0; pid && running(pid) && waited < 10_000; waited += 100) await sleep(100);
  if (pid && running(pid)) process.kill(pid, 'SIGKILL');
  // Whatever survived a crashed daemon: containerds and shims whose command lines name a node directory.
  await killProcessesMentioning(join(root, 'nodes'));
  await unmountBelow(root);
  await rm(controlSocket(root), { force: true });
  await rm(pidFile(root), { force: true });
};
