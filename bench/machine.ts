import { readFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { setTimeout } from 'node:timers/promises';
import { run } from '../lib/exec/run.ts';
import type { RigInfo } from '../rig/types.ts';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGib: number;
  kernel: string;
  node: string;
  /** 1-minute load average when the run started: above the CPU count, figures are noisy. */
  loadAtStart: number;
  containerd: string;
  docker: string;
  registry: string;
  skopeo: string;
  ctr: string;
}

const firstLine = async (file: string, args: readonly string[]): Promise<string> =>
  (await run(file, args).catch(() => ({ stdout: 'not found' }))).stdout.split('\n')[0]?.trim() ?? '';

export const describeMachine = async (
  rig: Pick<RigInfo, 'containerd' | 'docker' | 'registry'>,
): Promise<MachineInfo> => ({
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
  memoryGib: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
  kernel: release(),
  node: process.version,
  loadAtStart: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  containerd: rig.containerd.version,
  docker: rig.docker.version,
  registry: `distribution ${rig.registry.version}`,
  skopeo: await firstLine('skopeo', ['--version']),
  ctr: await firstLine('ctr', ['--version']),
});

export const machineLines = (machine: MachineInfo): string[] => [
  `machine: ${machine.cpus} CPU (${machine.cpuModel}), ${machine.memoryGib} GiB, kernel ${machine.kernel}, load ${machine.loadAtStart} at start`,
  `software: node ${machine.node}; containerd ${machine.containerd} (${machine.ctr}); dockerd ${machine.docker}; ${machine.registry}; ${machine.skopeo}`,
];

const SETTLE_SAMPLE_MS = 500;
const SETTLE_IDLE = 0.85;
const SETTLE_LIMIT_MS = 20_000;

/** Idle and total jiffies of all CPUs, from the first line of /proc/stat. */
const cpuTimes = async (): Promise<{ idle: number; total: number }> => {
  const [, ...fields] = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/);
  const values = fields.map(Number);
  // Field 4 is idle; iowait (field 5) counts as busy: writeback still going on is what the wait is for.
  return { idle: values[3] ?? 0, total: values.reduce((sum, value) => sum + value, 0) };
};

/**
 * Flushes dirty pages and waits (at most 20 s) until the CPUs are 85% idle over half a second: building and
 * pushing the workloads leaves hundreds of MiB to write back and a registry still settling, which would slow
 * the start-up figures measured next (process starts, tenths of a second) by half again.
 */
export const settle = async (): Promise<void> => {
  await run('sync', []);
  const deadline = performance.now() + SETTLE_LIMIT_MS;
  while (performance.now() < deadline) {
    const before = await cpuTimes();
    await setTimeout(SETTLE_SAMPLE_MS);
    const after = await cpuTimes();
    if ((after.idle - before.idle) / Math.max(1, after.total - before.total) >= SETTLE_IDLE) return;
  }
};
