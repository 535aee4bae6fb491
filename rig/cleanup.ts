import { readdir, readFile } from 'node:fs/promises';
import { run } from '../lib/exec/run.ts';

interface ProcessEntry {
  pid: number;
  parent: number;
  commandLine: string;
}

const listProcesses = async (): Promise<ProcessEntry[]> => {
  const entries: ProcessEntry[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const [commandLine, stat] = await Promise.all([
        readFile(`/proc/${name}/cmdline`, 'utf8'),
        readFile(`/proc/${name}/stat`, 'utf8'),
      ]);
      // stat is "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so split after the last ')'.
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      entries.push({ pid: Number(name), parent, commandLine: commandLine.replaceAll('\0', ' ') });
    } catch {
      // The process ended while we looked.
    }
  }
  return entries;
};

/**
 * SIGKILLs every process whose command line contains `marker` (a path private to this run, such as the rig
 * containerd's socket), and their children. containerd's shims detach from the daemon on purpose and outlive it;
 * this is how a run removes the ones its own containerd started, and no others.
 */
export const killProcessesMentioning = async (marker: string): Promise<number> => {
  const processes = await listProcesses();
  const targets = new Set(
    processes.filter((entry) => entry.commandLine.includes(marker)).map((entry) => entry.pid),
  );
  let grew = true;
  while (grew) {
    const before = targets.size;
    for (const entry of processes) if (targets.has(entry.parent)) targets.add(entry.pid);
    grew = targets.size > before;
  }
  targets.delete(process.pid);
  for (const pid of targets) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  return targets.size;
};

/** Unmounts everything mounted below `dir`, deepest first (container root filesystems, overlay layers, netns). */
export const unmountBelow = async (dir: string): Promise<void> => {
  const mountInfo = await readFile('/proc/self/mountinfo', 'utf8');
  const prefix = `${dir}/`;
  const mountPoints = mountInfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    // mountinfo escapes spaces and the like as \040; the rig's own paths have none.
    .filter((path): path is string => path?.startsWith(prefix) === true)
    .sort((a, b) => b.length - a.length);
  for (const path of mountPoints) {
    try {
      await run('umount', [path]);
    } catch {
      await run('umount', ['-l', path]).catch(() => undefined);
    }
  }
};
