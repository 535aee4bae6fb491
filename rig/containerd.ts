import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { stringify } from '@iarna/toml';
import { AirlockError } from '../lib/errors.ts';
import { run } from '../lib/exec/run.ts';
import { killProcessesMentioning, unmountBelow } from './cleanup.ts';
import { lastLogLines, startDaemon } from './daemon.ts';
import { overlayWorks } from './overlay.ts';
import { ensureCommand } from './packages.ts';

export interface RigContainerd {
  /** The gRPC socket: `ctr --address`, `CONTAINERD_ADDRESS`, CRI clients. */
  address: string;
  root: string;
  state: string;
  /** Server version, e.g. '1.6.20~ds1'. */
  version: string;
  /** 'overlayfs' where overlay mounts work, else 'native'; `ctr images import|run --snapshotter` need it. */
  snapshotter: string;
  stop(): Promise<void>;
}

export interface ContainerdOptions {
  /** A directory of this run; root, state, socket, CNI config and log go below it. Keep it short. */
  dir: string;
  /** The gRPC socket, e.g. `DIR/nodes/X/run/containerd/containerd.sock`. Default `<dir>/containerd.sock`. */
  address?: string;
  /** The CRI sandbox (pause) image; it must be imported before the first RunPodSandbox. Default PAUSE_IMAGE. */
  sandboxImage?: string;
}

/** Every rig containerd's sandbox image: a scratch image holding only a static busybox (rig/pause-image.ts). */
export const PAUSE_IMAGE = 'localhost/airlock/pause:busybox';

// Snapshotters that only probe and complain on a plain ext4/xfs host; leaving them out keeps startup quick.
const DISABLED_PLUGINS = [
  'io.containerd.snapshotter.v1.aufs',
  'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.devmapper',
  'io.containerd.snapshotter.v1.zfs',
];

interface ConfigInput {
  dir: string;
  address: string;
  snapshotter: string;
  sandboxImage: string;
}

const containerdConfig = ({ dir, address, snapshotter, sandboxImage }: ConfigInput): string =>
  stringify({
    version: 2,
    root: join(dir, 'root'),
    state: join(dir, 'state'),
    disabled_plugins: DISABLED_PLUGINS,
    grpc: { address },
    ttrpc: { address: `${address}.ttrpc` },
    // No debug socket and no metrics listener: nothing that could clash with another containerd.
    debug: { address: '', level: 'info' },
    metrics: { address: '' },
    plugins: {
      'io.containerd.internal.v1.opt': { path: join(dir, 'opt') },
      'io.containerd.grpc.v1.cri': {
        // Port 0: the streaming server (exec/attach) takes a free loopback port.
        stream_server_address: '127.0.0.1',
        stream_server_port: '0',
        disable_tcp_service: true,
        sandbox_image: sandboxImage,
        // Pods get the daemon's own OOM score adjustment or more: raising it needs CAP_SYS_RESOURCE, which
        // containers on this kind of machine lack, and without this every RunPodSandbox fails.
        restrict_oom_score_adj: true,
        // Host-network pods only: no CNI plugin is installed and none is needed.
        cni: { bin_dir: join(dir, 'cni', 'bin'), conf_dir: join(dir, 'cni', 'net.d') },
        containerd: {
          snapshotter,
          default_runtime_name: 'runc',
          runtimes: {
            runc: {
              runtime_type: 'io.containerd.runc.v2',
              // runc's own state away from /run/containerd/runc, which the host's containerd uses.
              options: { Root: join(dir, 'runc'), SystemdCgroup: false },
            },
          },
        },
      },
    },
  });

/** containerd's server version from `ctr version`, or throws while the daemon does not answer yet. */
export const containerdVersion = async (address: string): Promise<string> => {
  const { stdout } = await run('ctr', ['--address', address, 'version'], { timeout: 5_000 });
  const server = stdout.slice(stdout.indexOf('Server:'));
  const version = /Version:\s*(\S+)/.exec(server)?.[1];
  if (!stdout.includes('Server:') || !version)
    throw new Error(`ctr version printed no server version:\n${stdout}`);
  return version;
};

const requireCriPlugin = async (address: string, logFile: string): Promise<void> => {
  const { stdout } = await run('ctr', ['--address', address, 'plugins', 'ls']);
  const cri = stdout.split('\n').find((line) => /^io\.containerd\.grpc\.v1\s+cri\s/.test(line));
  if (cri?.trim().endsWith('ok')) return;
  throw new AirlockError(
    'RUNTIME_UNREACHABLE',
    `rig containerd at ${address}: the CRI plugin did not load (${cri?.trim() ?? 'not listed'}); log ${logFile} ends with:\n${await lastLogLines(logFile)}`,
  );
};

const namespaces = async (address: string): Promise<string[]> => {
  const { stdout } = await run('ctr', ['--address', address, 'namespaces', 'ls', '-q']);
  return stdout.split('\n').filter(Boolean);
};

// Tasks keep running in their shims after containerd exits: remove them while the daemon still answers.
const deleteAllTasks = async (address: string): Promise<void> => {
  for (const namespace of await namespaces(address)) {
    const ctr = ['--address', address, '-n', namespace];
    const { stdout } = await run('ctr', [...ctr, 'tasks', 'ls', '-q']);
    for (const id of stdout.split('\n').filter(Boolean)) {
      await run('ctr', [...ctr, 'tasks', 'delete', '-f', id], { timeout: 15_000 }).catch(() => undefined);
    }
  }
};

/**
 * Debian's containerd with a config of its own: root, state and sockets below `dir`, the CRI plugin on, the
 * overlayfs snapshotter where it works (else native). Shares nothing with a containerd the host may run.
 */
export const startContainerd = async (options: ContainerdOptions): Promise<RigContainerd> => {
  await Promise.all([ensureCommand('containerd', 'containerd'), ensureCommand('runc', 'runc')]);
  const { dir } = options;
  for (const sub of ['root', 'state', 'opt', 'runc', 'cni/bin', 'cni/net.d']) {
    await mkdir(join(dir, sub), { recursive: true });
  }
  const snapshotter = (await overlayWorks(dir)) ? 'overlayfs' : 'native';
  const address = options.address ?? join(dir, 'containerd.sock');
  // sun_path holds 108 bytes with its NUL; the ttrpc socket beside it is 6 bytes longer.
  if (Buffer.byteLength(`${address}.ttrpc`) > 107) {
    throw new AirlockError(
      'BAD_INPUT',
      `containerd socket ${address}: too long for a unix socket (${Buffer.byteLength(address)} bytes, at most 101) — use a shorter directory`,
    );
  }
  await mkdir(dirname(address), { recursive: true });
  const configPath = join(dir, 'config.toml');
  const sandboxImage = options.sandboxImage ?? PAUSE_IMAGE;
  await writeFile(configPath, containerdConfig({ dir, address, snapshotter, sandboxImage }));
  const logFile = join(dir, 'containerd.log');
  const daemon = await startDaemon({
    name: 'containerd',
    command: 'containerd',
    args: ['--config', configPath],
    logFile,
    ready: async () => Boolean(await containerdVersion(address)),
    stopGrace: 10_000,
  });

  const stop = async (): Promise<void> => {
    await deleteAllTasks(address).catch(() => undefined);
    await daemon.stop();
    await killProcessesMentioning(address);
    await unmountBelow(dir);
  };
  try {
    await requireCriPlugin(address, logFile);
    const version = await containerdVersion(address);
    return { address, root: join(dir, 'root'), state: join(dir, 'state'), version, snapshotter, stop };
  } catch (error) {
    await stop();
    throw error;
  }
};
