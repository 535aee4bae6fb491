import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { AirlockError, describeError } from '../errors.ts';
import { createContainerdRuntime, DEFAULT_NAMESPACE, probeContainerd } from './containerd.ts';
import { createDockerRuntime, probeDocker } from './docker.ts';
import { dockerSocketOf } from './docker-api.ts';
import type { ContainerRuntime, RuntimeKind } from './types.ts';

export interface DetectOptions {
  runtime?: 'auto' | RuntimeKind;
  /** containerd socket; when set (or `dockerHost`), only the explicit endpoints are tried. */
  containerdAddress?: string;
  /** containerd namespace; default k8s.io, where kubelet looks. */
  namespace?: string;
  /** A DOCKER_HOST value, `unix:///var/run/docker.sock`. */
  dockerHost?: string;
  ctrPath?: string;
  /** Milliseconds each candidate has to answer; default 5000. */
  probeTimeoutMs?: number;
}

/** Where to look, in order. Tests point these at their own sockets; the defaults are the well-known node paths. */
export interface SocketCandidates {
  containerd?: readonly string[];
  docker?: readonly string[];
}

/** Stock containerd, then k3s and RKE2 (they run their own containerd), then the /var/run spelling of the first. */
export const CONTAINERD_SOCKETS: readonly string[] = [
  '/run/containerd/containerd.sock',
  '/run/k3s/containerd/containerd.sock',
  '/var/run/containerd/containerd.sock',
];
export const DOCKER_SOCKETS: readonly string[] = ['/var/run/docker.sock'];

const PERMISSION_HINT = 'run the importer as root or mount the socket with the right group';

interface Candidate {
  kind: RuntimeKind;
  /** The socket path (containerd) or DOCKER_HOST value (docker). */
  endpoint: string;
}

/** Why a socket cannot be used before anything is asked of it: missing, not a socket, or not ours to open. */
const socketProblem = async (path: string): Promise<string | undefined> => {
  try {
    const stats = await stat(path);
    if (!stats.isSocket()) return 'not answering: not a socket';
    await access(path, constants.R_OK | constants.W_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    if (code === 'EACCES' || code === 'EPERM') return `permission denied: ${PERMISSION_HINT}`;
    return `not answering: ${(error as Error).message}`;
  }
};

const firstLine = (text: string): string =>
  text
    .split('\n')
    .find((line) => line.trim())
    ?.trim() ?? text;

const unanswered = (error: unknown): string => {
  const message = describeError(error);
  if (/permission denied/i.test(message)) return `permission denied: ${PERMISSION_HINT}`;
  return `not answering: ${firstLine(message)}`;
};

const candidatesOf = (options: DetectOptions, sockets: SocketCandidates): Candidate[] => {
  const wanted = options.runtime ?? 'auto';
  const containerd = (endpoint: string): Candidate => ({ kind: 'containerd', endpoint });
  const docker = (endpoint: string): Candidate => ({ kind: 'docker', endpoint });
  const explicit: Candidate[] = [];
  if (options.containerdAddress && wanted !== 'docker') explicit.push(containerd(options.containerdAddress));
  if (options.dockerHost && wanted !== 'containerd') explicit.push(docker(options.dockerHost));
  if (explicit.length > 0) return explicit;
  const found: Candidate[] = [];
  // containerd first: kubelet talks to containerd since Kubernetes 1.24 removed dockershim, so on a node running
  // both (dockerd on top of containerd) the images kubelet sees are containerd's k8s.io namespace.
  if (wanted !== 'docker') found.push(...(sockets.containerd ?? CONTAINERD_SOCKETS).map(containerd));
  if (wanted !== 'containerd') found.push(...(sockets.docker ?? DOCKER_SOCKETS).map(docker));
  return found;
};

/** Why the candidate failed, or that it answered (with containerd's version, which the header prints). */
const probe = async (
  candidate: Candidate,
  options: DetectOptions,
): Promise<{ failure: string } | { version?: string }> => {
  const timeoutMs = options.probeTimeoutMs ?? 5000;
  const path = candidate.kind === 'docker' ? dockerSocketOf(candidate.endpoint) : candidate.endpoint;
  const problem = await socketProblem(path);
  if (problem) return { failure: problem };
  try {
    if (candidate.kind === 'docker') {
      await probeDocker(candidate.endpoint, { timeoutMs });
      return {};
    }
    const version = await probeContainerd(candidate.endpoint, {
      timeoutMs,
      ...(options.ctrPath ? { ctrPath: options.ctrPath } : {}),
    });
    return { version };
  } catch (error) {
    // Without ctr the importer cannot speak to containerd at all: say that, not "not answering".
    if (error instanceof AirlockError && error.code === 'TOOL_MISSING') throw error;
    return { failure: unanswered(error) };
  }
};

/**
 * Finds the node's container runtime: explicit endpoints if given, else the well-known sockets in order.
 * A socket counts only if it exists and answers (containerd's Version call / GET /_ping).
 */
export const detectRuntime = async (
  options: DetectOptions = {},
  sockets: SocketCandidates = {},
): Promise<ContainerRuntime> => {
  const failures: string[] = [];
  for (const candidate of candidatesOf(options, sockets)) {
    const answer = await probe(candidate, options);
    if ('failure' in answer) {
      failures.push(`${candidate.endpoint} (${answer.failure})`);
      continue;
    }
    if (candidate.kind === 'docker') return createDockerRuntime({ host: candidate.endpoint });
    return createContainerdRuntime({
      address: candidate.endpoint,
      namespace: options.namespace ?? DEFAULT_NAMESPACE,
      ...(options.ctrPath ? { ctrPath: options.ctrPath } : {}),
      ...(answer.version ? { knownVersion: answer.version } : {}),
    });
  }
  throw new AirlockError(
    'RUNTIME_UNREACHABLE',
    `no container runtime answered: ${failures.join(', ') || 'no socket to try'} — mount the node's runtime socket (imagePull.runtime / socket values)`,
  );
};
