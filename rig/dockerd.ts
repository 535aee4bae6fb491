import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { z } from 'zod';
import { unmountBelow } from './cleanup.ts';
import { startDaemon } from './daemon.ts';
import { overlayWorks } from './overlay.ts';
import { ensureCommand } from './packages.ts';

export interface RigDocker {
  /** A DOCKER_HOST value: 'unix:///tmp/.../docker.sock'. */
  host: string;
  socket: string;
  /** Engine version from /version, e.g. '20.10.24+dfsg1'. */
  version: string;
  /** 'overlay2' where overlay mounts work, else 'vfs'. */
  storageDriver: string;
  stop(): Promise<void>;
}

export interface DockerdOptions {
  /** A directory of this run; data-root, exec-root, socket and log go below it. Keep it short. */
  dir: string;
  /** The gRPC socket of the containerd dockerd runs its containers on. */
  containerdAddress: string;
}

const EngineVersion = z.object({ Version: z.string() });

/** A request to the Docker Engine API over its unix socket; rejects on a non-2xx status. */
export const dockerRequest = (
  socket: string,
  method: string,
  path: string,
  timeout = 5_000,
): Promise<string> =>
  new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method, timeout }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve(body);
        else reject(new Error(`${method} ${path} on ${socket}: HTTP ${status}: ${body.trim()}`));
      });
    });
    req.on('timeout', () =>
      req.destroy(new Error(`${method} ${path} on ${socket}: no answer within ${timeout} ms`)),
    );
    req.on('error', reject);
    req.end();
  });

export const dockerGet = (socket: string, path: string, timeout?: number): Promise<string> =>
  dockerRequest(socket, 'GET', path, timeout);

const RunningContainers = z.array(z.object({ Id: z.string() }));

// dockerd gives each running container its stop timeout (10 s) on shutdown; the rig's need no grace.
const killRunningContainers = async (socket: string): Promise<void> => {
  const containers = RunningContainers.parse(JSON.parse(await dockerGet(socket, '/containers/json')));
  await Promise.allSettled(
    containers.map(({ Id }) => dockerRequest(socket, 'POST', `/containers/${Id}/kill?signal=SIGKILL`)),
  );
};

/**
 * Debian's dockerd on the rig's containerd, with its own data-root, exec-root, socket and containerd
 * namespaces, and no host networking changes (no iptables, no bridge, no IP forwarding).
 */
export const startDockerd = async (options: DockerdOptions): Promise<RigDocker> => {
  await ensureCommand('dockerd', 'docker.io');
  const { dir, containerdAddress } = options;
  const dataRoot = join(dir, 'data');
  const execRoot = join(dir, 'exec');
  for (const path of [dataRoot, execRoot]) await mkdir(path, { recursive: true });
  const storageDriver = (await overlayWorks(dir)) ? 'overlay2' : 'vfs';
  // An empty config file of our own: /etc/docker/daemon.json belongs to the host's dockerd.
  const configFile = join(dir, 'daemon.json');
  await writeFile(configFile, '{}\n');
  const socket = join(dir, 'docker.sock');
  const namespace = `rig-docker-${randomBytes(4).toString('hex')}`;
  const daemon = await startDaemon({
    name: 'dockerd',
    command: 'dockerd',
    args: [
      '--config-file',
      configFile,
      '--iptables=false',
      '--ip6tables=false',
      '--ip-masq=false',
      '--ip-forward=false',
      '--bridge=none',
      '--data-root',
      dataRoot,
      '--exec-root',
      execRoot,
      '--pidfile',
      join(dir, 'docker.pid'),
      '--host',
      `unix://${socket}`,
      '--containerd',
      containerdAddress,
      '--containerd-namespace',
      namespace,
      '--containerd-plugins-namespace',
      `${namespace}-plugins`,
      '--storage-driver',
      storageDriver,
    ],
    logFile: join(dir, 'dockerd.log'),
    ready: async () => (await dockerGet(socket, '/_ping', 2_000)) === 'OK',
    readyTimeout: 90_000,
    stopGrace: 15_000,
  });
  const stop = async (): Promise<void> => {
    await killRunningContainers(socket).catch(() => undefined);
    await daemon.stop();
    await unmountBelow(dir);
  };
  try {
    const { Version } = EngineVersion.parse(JSON.parse(await dockerGet(socket, '/version')));
    return { host: `unix://${socket}`, socket, version: Version, storageDriver, stop };
  } catch (error) {
    await stop();
    throw error;
  }
};
