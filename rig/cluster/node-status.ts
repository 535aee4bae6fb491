// The Node object a kubelet registers and keeps fresh: labels, nodeInfo, capacity, addresses, the images its
// containerd holds (CRI ListImages, largest first, at most 50 like kubelet's --node-status-max-images) and the
// Ready condition with its heartbeat.
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import type { KubeObject } from './api/types.ts';
import { type Condition, setCondition } from './controllers/util.ts';

export interface NodeFacts {
  name: string;
  /** containerd's version as CRI reports it, e.g. '1.6.20~ds1'. */
  runtimeVersion: string;
}

export interface NodeImage {
  names: string[];
  sizeBytes: number;
}

const MAX_IMAGES = 50;

export const KUBELET_VERSION = 'v1.33.0';

const ARCHITECTURE = process.arch === 'arm64' ? 'arm64' : 'amd64';

const osImage = (): string => {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
};

// kubelet reports the CRI's version verbatim; ours drops the Debian revision ('1.6.20~ds1' -> '1.6.20').
const runtimeVersion = (version: string): string => `containerd://${version.split(/[~+-]/)[0]}`;

export const nodeObject = (facts: NodeFacts): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: {
    name: facts.name,
    labels: {
      'beta.kubernetes.io/arch': ARCHITECTURE,
      'beta.kubernetes.io/os': 'linux',
      'kubernetes.io/arch': ARCHITECTURE,
      'kubernetes.io/hostname': facts.name,
      'kubernetes.io/os': 'linux',
    },
    annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
  },
  spec: {},
});

const capacity = () => ({
  cpu: String(cpus().length),
  memory: `${Math.floor(totalmem() / 1024)}Ki`,
  pods: '110',
  'ephemeral-storage': '0',
});

export const nodeStatus = (
  facts: NodeFacts,
  previous: KubeObject['status'],
  images: NodeImage[],
): KubeObject['status'] => {
  const now = `${new Date().toISOString().slice(0, 19)}Z`;
  let conditions: Condition[] = previous?.conditions ?? [];
  const pressure = [
    ['MemoryPressure', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'],
    ['DiskPressure', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'],
    ['PIDPressure', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'],
  ] as const;
  for (const [type, reason, message] of pressure) {
    conditions = setCondition(conditions, { type, status: 'False', reason, message, lastHeartbeatTime: now });
  }
  conditions = setCondition(conditions, {
    type: 'Ready',
    status: 'True',
    reason: 'KubeletReady',
    message: 'kubelet is posting ready status',
    lastHeartbeatTime: now,
  });
  return {
    capacity: capacity(),
    allocatable: capacity(),
    conditions,
    addresses: [
      { type: 'InternalIP', address: '127.0.0.1' },
      { type: 'Hostname', address: facts.name },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
    nodeInfo: {
      machineID: '',
      systemUUID: '',
      bootID: '',
      kernelVersion: release(),
      osImage: osImage(),
      containerRuntimeVersion: runtimeVersion(facts.runtimeVersion),
      kubeletVersion: KUBELET_VERSION,
      kubeProxyVersion: '',
      operatingSystem: 'linux',
      architecture: ARCHITECTURE,
    },
    images: [...images].sort((a, b) => b.sizeBytes - a.sizeBytes).slice(0, MAX_IMAGES),
  };
};
