export {
  type ContainerdOptions,
  createContainerdRuntime,
  DEFAULT_NAMESPACE,
  PINNED_LABEL_KEY,
  PINNED_LABEL_VALUE,
} from './containerd.ts';
export {
  CONTAINERD_SOCKETS,
  type DetectOptions,
  DOCKER_SOCKETS,
  detectRuntime,
  type SocketCandidates,
} from './detect.ts';
export { createDockerRuntime, type DockerOptions } from './docker.ts';
export { dockerSocketOf } from './docker-api.ts';
export type {
  ContainerRuntime,
  ImportedNames,
  ImportTarOptions,
  RuntimeImage,
  RuntimeKind,
} from './types.ts';
