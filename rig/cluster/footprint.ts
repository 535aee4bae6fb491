// What a running cluster costs in memory: the daemon, each node's containerd and the shims those started, read
// from /proc (containers themselves are the workload, not the stand-in). Two totals: the plain sum of RSS,
// which counts the pages of one executable once per process running it, and the group's resident memory with
// those shared pages counted once per executable (private pages + the largest shared set of each binary).
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pidFile } from './paths.ts';

export interface ClusterFootprint {
  /** Sum of VmRSS of every process of the group. */
  rssBytes: number;
  /** Resident memory of the group, shared pages of one executable counted once. */
  residentBytes: number;
  byRole: { daemon: number; containerd: number; shim: number };
  processes: number;
}

interface Sample {
  role: 'daemon' | 'containerd' | 'shim';
  executable: string;
  rss: number;
  privateBytes: number;
  sharedBytes: number;
}

const field = (text: string, name: string): number =>
  Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;

const sample = async (pid: number, role: Sample['role']): Promise<Sample | undefined> => {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => undefined);
  if (!rollup) return undefined;
  return {
    role,
    executable: await readlink(`/proc/${pid}/exe`).catch(() => String(pid)),
    rss: field(rollup, 'Rss'),
    privateBytes: field(rollup, 'Private_Clean') + field(rollup, 'Private_Dirty'),
    sharedBytes: field(rollup, 'Shared_Clean') + field(rollup, 'Shared_Dirty'),
  };
};

const nodeProcesses = async (marker: string): Promise<{ pid: number; role: Sample['role'] }[]> => {
  const found: { pid: number; role: Sample['role'] }[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const line = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    if (!line.includes(marker)) continue;
    if (line.includes('containerd-shim')) found.push({ pid: Number(pid), role: 'shim' });
    else if (/^(\S*\/)?containerd /.test(line)) found.push({ pid: Number(pid), role: 'containerd' });
  }
  return found;
};

export const clusterFootprint = async (dir: string): Promise<ClusterFootprint> => {
  const root = resolve(dir);
  const daemonPid = Number((await readFile(pidFile(root), 'utf8')).trim());
  const targets = [
    { pid: daemonPid, role: 'daemon' as const },
    ...(await nodeProcesses(join(root, 'nodes'))),
  ];
  const samples = (await Promise.all(targets.map(({ pid, role }) => sample(pid, role)))).filter(
    (entry): entry is Sample => entry !== undefined,
  );
  const sharedByExecutable = new Map<string, number>();
  for (const entry of samples) {
    sharedByExecutable.set(
      entry.executable,
      Math.max(sharedByExecutable.get(entry.executable) ?? 0, entry.sharedBytes),
    );
  }
  const byRole = { daemon: 0, containerd: 0, shim: 0 };
  for (const entry of samples) byRole[entry.role] += entry.rss;
  const privateTotal = samples.reduce((sum, entry) => sum + entry.privateBytes, 0);
  const sharedTotal = [...sharedByExecutable.values()].reduce((sum, bytes) => sum + bytes, 0);
  return {
    rssBytes: samples.reduce((sum, entry) => sum + entry.rss, 0),
    residentBytes: privateTotal + sharedTotal,
    byRole,
    processes: samples.length,
  };
};
