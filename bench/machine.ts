import { cpus, loadavg, release, totalmem } from 'node:os';
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
