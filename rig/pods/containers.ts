// One container of a pod through its lifetime, as kubelet's sync loop drives it: image check without pulls,
// CreateContainer/StartContainer, restarts by restartPolicy with back-off, and the waiting reasons kubelet
// reports on the way (ErrImageNeverPull, ErrImagePull/ImagePullBackOff, CreateContainerConfigError, CrashLoopBackOff).
import type { IContainer } from 'kubernetes-models/v1/Container';
import { normalizeReference } from '../../lib/reference/index.ts';
import type { CriClient } from '../cri.ts';
import type { ContainerStatus, PodSandboxConfig } from '../cri-types.ts';
import { type ContainerContext, containerConfig, verifyRunAsNonRoot } from './container-config.ts';

export interface ContainerRecord {
  spec: IContainer;
  init: boolean;
  /** The current CRI container, if one was created. */
  id?: string;
  status?: ContainerStatus;
  /** The instance before the current one, kept for `logs --previous` and lastState. */
  previous?: ContainerStatus;
  attempt: number;
  restartCount: number;
  waiting?: { reason: string; message?: string };
  /** Restart back-off: the delay before the next restart (none before the first), and its end once exited. */
  backoffDelay?: number;
  backoffUntil?: number;
  /** Image "pull" back-off, kept apart: an image imported meanwhile is used at the next attempt. */
  pullDelay?: number;
  pullUntil?: number;
}

export interface SyncContext extends ContainerContext {
  cri: CriClient;
  sandboxId: string;
  sandboxConfig: PodSandboxConfig;
  backoff: { initial: number; max: number };
  event(type: 'Normal' | 'Warning', reason: string, message: string): void;
}

export const newRecord = (spec: IContainer, init: boolean): ContainerRecord => ({
  spec,
  init,
  attempt: 0,
  restartCount: 0,
});

/** The image as kubelet's status shows it: fully qualified, with the default tag. */
export const displayImage = (image: string): string => {
  try {
    return normalizeReference(image);
  } catch {
    return image;
  }
};

const pullPolicy = (container: IContainer): string => {
  if (container.imagePullPolicy) return container.imagePullPolicy;
  const image = container.image ?? '';
  const lastPart = image.slice(image.lastIndexOf('/') + 1);
  const tagged = lastPart.includes(':') && !lastPart.endsWith(':latest');
  return tagged || image.includes('@') ? 'IfNotPresent' : 'Always';
};

const nextDelay = (ctx: SyncContext, delay: number | undefined): number =>
  delay === undefined ? ctx.backoff.initial : Math.min(delay * 2, ctx.backoff.max);

// Nothing is ever pulled here: an absent image waits with the reason kubelet gives for its policy.
const imageMissing = (ctx: SyncContext, record: ContainerRecord): void => {
  const image = record.spec.image ?? '';
  if (pullPolicy(record.spec) === 'Never') {
    const message = `Container image "${image}" is not present with pull policy of Never`;
    if (record.waiting?.reason !== 'ErrImageNeverPull') ctx.event('Warning', 'ErrImageNeverPull', message);
    record.waiting = { reason: 'ErrImageNeverPull', message };
    return;
  }
  if (record.pullUntil !== undefined && Date.now() < record.pullUntil) {
    record.waiting = { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` };
    return;
  }
  const message = `failed to pull and unpack image "${displayImage(image)}": this node pulls no image (air-gapped); import it into the node's containerd`;
  ctx.event('Normal', 'Pulling', `Pulling image "${image}"`);
  ctx.event('Warning', 'Failed', `Failed to pull image "${image}": ${message}`);
  record.waiting = { reason: 'ErrImagePull', message };
  record.pullDelay = nextDelay(ctx, record.pullDelay);
  record.pullUntil = Date.now() + record.pullDelay;
};

const configFailed = (ctx: SyncContext, record: ContainerRecord, reason: string, error: unknown): void => {
  const message = (error as Error).message ?? String(error);
  if (record.waiting?.message !== message) ctx.event('Warning', 'Failed', `Error: ${message}`);
  record.waiting = { reason, message };
};

/** Creates and starts the container's next instance; on a failure kubelet reports, sets `waiting` instead. */
export const launchContainer = async (ctx: SyncContext, record: ContainerRecord): Promise<void> => {
  const image = await ctx.cri.imageStatus(record.spec.image ?? '');
  if (!image) return imageMissing(ctx, record);
  record.pullDelay = undefined;
  record.pullUntil = undefined;
  let config: Awaited<ReturnType<typeof containerConfig>>;
  try {
    verifyRunAsNonRoot(ctx.pod, record.spec, image);
    config = await containerConfig(ctx, record.spec, {
      image: image.id,
      attempt: record.attempt,
      init: record.init,
    });
  } catch (error) {
    return configFailed(ctx, record, 'CreateContainerConfigError', error);
  }
  if (record.attempt === 0) {
    ctx.event('Normal', 'Pulled', `Container image "${record.spec.image}" already present on machine`);
  }
  let id: string;
  try {
    id = await ctx.cri.createContainer(ctx.sandboxId, config, ctx.sandboxConfig);
  } catch (error) {
    return configFailed(ctx, record, 'CreateContainerError', error);
  }
  ctx.event('Normal', 'Created', `Created container ${record.spec.name}`);
  record.id = id;
  record.waiting = undefined;
  try {
    await ctx.cri.startContainer(id);
    ctx.event('Normal', 'Started', `Started container ${record.spec.name}`);
  } catch (error) {
    // The CRI then reports the container exited (StartError, 128); restarts follow the policy as for a crash.
    ctx.event('Warning', 'Failed', `Error: ${(error as Error).message}`);
  }
  record.status = await ctx.cri.containerStatus(id);
};

export const exited = (record: ContainerRecord): boolean => record.status?.state === 'CONTAINER_EXITED';
export const succeeded = (record: ContainerRecord): boolean =>
  exited(record) && record.status?.exitCode === 0;

/** Whether an exited container runs again under `policy` (init containers restart only on failure). */
export const shouldRestart = (record: ContainerRecord, policy: string): boolean => {
  if (!exited(record)) return false;
  if (policy === 'Never') return false;
  if (policy === 'Always' && !record.init) return true;
  return !succeeded(record);
};

/** Restarts an exited container now, or waits in CrashLoopBackOff until its back-off has passed. */
export const restartContainer = async (ctx: SyncContext, record: ContainerRecord): Promise<void> => {
  // kubelet restarts the first time at once, then waits 10 s, 20 s, ... up to 5 min after each exit.
  if (record.backoffDelay !== undefined) {
    const finished = Number(BigInt(record.status?.finishedAt ?? '0') / 1_000_000n) || Date.now();
    record.backoffUntil ??= finished + record.backoffDelay;
    if (Date.now() < record.backoffUntil) {
      const { metadata = {} } = ctx.pod;
      const seconds = Math.round(record.backoffDelay / 1000);
      record.waiting = {
        reason: 'CrashLoopBackOff',
        message: `back-off ${seconds}s restarting failed container=${record.spec.name} pod=${metadata.name}_${ctx.namespace}(${metadata.uid})`,
      };
      return;
    }
  }
  record.backoffDelay = nextDelay(ctx, record.backoffDelay);
  record.backoffUntil = undefined;
  const before = record.previous?.id;
  record.previous = record.status;
  record.attempt += 1;
  record.restartCount += 1;
  record.id = undefined;
  record.status = undefined;
  record.waiting = undefined;
  if (before) await ctx.cri.removeContainer(before).catch(() => undefined);
  await launchContainer(ctx, record);
};
