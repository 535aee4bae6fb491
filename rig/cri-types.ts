// The CRI runtime.v1 messages the rig sends and reads, in proto-loader's shape: camelCase fields, enums as
// their names, int64 as decimal strings (nanosecond timestamps pass 2^53). Only the fields the rig uses.

export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type PodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
export type ContainerState =
  | 'CONTAINER_CREATED'
  | 'CONTAINER_RUNNING'
  | 'CONTAINER_EXITED'
  | 'CONTAINER_UNKNOWN';

export interface NamespaceOption {
  network?: NamespaceMode;
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
}

export interface SecurityProfile {
  profileType: 'RuntimeDefault' | 'Unconfined' | 'Localhost';
  localhostRef?: string;
}

export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt?: number;
}

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  /** Empty for a host-network sandbox: it shares the node's UTS namespace, and runc refuses to set a name there. */
  hostname: string;
  logDirectory: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: {
    cgroupParent?: string;
    securityContext?: {
      namespaceOptions?: NamespaceOption;
      runAsUser?: { value: number };
      runAsGroup?: { value: number };
      supplementalGroups?: number[];
      readonlyRootfs?: boolean;
      privileged?: boolean;
      seccomp?: SecurityProfile;
    };
  };
}

export interface CriMount {
  containerPath: string;
  hostPath: string;
  readonly?: boolean;
}

export interface LinuxContainerSecurityContext {
  capabilities?: { addCapabilities?: string[]; dropCapabilities?: string[] };
  privileged?: boolean;
  namespaceOptions?: NamespaceOption;
  runAsUser?: { value: number };
  runAsGroup?: { value: number };
  runAsUsername?: string;
  readonlyRootfs?: boolean;
  supplementalGroups?: number[];
  noNewPrivs?: boolean;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  seccomp?: SecurityProfile;
}

export interface ContainerConfig {
  metadata: { name: string; attempt?: number };
  image: { image: string };
  command?: string[];
  args?: string[];
  workingDir?: string;
  envs?: { key: string; value: string }[];
  mounts?: CriMount[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Relative to the sandbox's logDirectory. */
  logPath?: string;
  linux?: { securityContext?: LinuxContainerSecurityContext };
}

export interface PodSandboxStatus {
  id: string;
  metadata: PodSandboxMetadata;
  state: PodSandboxState;
  /** Nanoseconds since the epoch, as a decimal string. */
  createdAt: string;
  network?: { ip: string } | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata;
  state: PodSandboxState;
  createdAt: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface Container {
  id: string;
  podSandboxId: string;
  metadata: { name: string; attempt: number };
  image: { image: string } | null;
  imageRef: string;
  state: ContainerState;
  createdAt: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface ContainerStatus {
  id: string;
  metadata: { name: string; attempt: number };
  state: ContainerState;
  /** Nanoseconds since the epoch as decimal strings; '0' when not reached. */
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  image: { image: string } | null;
  imageRef: string;
  reason: string;
  message: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  logPath: string;
}

export interface CriImage {
  /** Image ID: the config digest. */
  id: string;
  repoTags: string[];
  repoDigests: string[];
  /** Bytes, as a decimal string. */
  size: string;
  /** The image config's user when numeric, else `username`. */
  uid?: { value: string } | null;
  username?: string;
}

export interface CriVersion {
  version: string;
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

export interface PodSandboxFilter {
  id?: string;
  state?: { state: PodSandboxState };
  labelSelector?: Record<string, string>;
}

export interface ContainerFilter {
  id?: string;
  state?: { state: ContainerState };
  podSandboxId?: string;
  labelSelector?: Record<string, string>;
}
