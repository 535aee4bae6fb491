// batch/v1 Job: pods from the template until `completions` succeed, `backoffLimit` failures fail it,
// `activeDeadlineSeconds` fails it with DeadlineExceeded, `ttlSecondsAfterFinished` deletes it afterwards.
// Conditions as in Kubernetes 1.33: SuccessCriteriaMet/FailureTarget first, then Complete/Failed.
import { deleteCascading } from '../api/delete.ts';
import { typeOfResource } from '../api/resources.ts';
import type { Store } from '../api/store.ts';
import { type KubeObject, nowTimestamp } from '../api/types.ts';
import {
  type Condition,
  conditionHolds,
  createPodFromTemplate,
  ownedObjects,
  setCondition,
  writeStatus,
} from './util.ts';

const finished = (job: KubeObject): boolean =>
  conditionHolds(job, 'Complete') || conditionHolds(job, 'Failed');

const finishedAt = (job: KubeObject): number => {
  const condition = ((job.status?.conditions ?? []) as Condition[]).find(
    (candidate) =>
      (candidate.type === 'Complete' || candidate.type === 'Failed') && candidate.status === 'True',
  );
  return Date.parse(condition?.lastTransitionTime ?? '');
};

const collectTtl = (store: Store, job: KubeObject): void => {
  const ttl = job.spec?.ttlSecondsAfterFinished;
  if (typeof ttl !== 'number' || !finished(job)) return;
  if (Date.now() < finishedAt(job) + ttl * 1000) return;
  deleteCascading(store, typeOfResource('jobs'), job);
};

const failureReason = (job: KubeObject, failed: number): { reason: string; message: string } | undefined => {
  if (failed > (job.spec?.backoffLimit ?? 6)) {
    return { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
  }
  const deadline = job.spec?.activeDeadlineSeconds;
  const started = Date.parse(job.status?.startTime ?? '');
  if (typeof deadline === 'number' && Number.isFinite(started) && Date.now() > started + deadline * 1000) {
    return { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
  }
  return undefined;
};

const finish = (
  store: Store,
  job: KubeObject,
  status: KubeObject['status'],
  active: KubeObject[],
  failure?: { reason: string; message: string },
): void => {
  const now = nowTimestamp();
  let conditions: Condition[] = status.conditions ?? [];
  if (failure) {
    for (const pod of active) store.delete('pods', pod.metadata.namespace, pod.metadata.name ?? '');
    conditions = setCondition(conditions, { type: 'FailureTarget', status: 'True', ...failure });
    conditions = setCondition(conditions, { type: 'Failed', status: 'True', ...failure });
    status.active = 0;
  } else {
    conditions = setCondition(conditions, {
      type: 'SuccessCriteriaMet',
      status: 'True',
      reason: 'CompletionsReached',
      message: 'Reached expected number of succeeded pods',
    });
    conditions = setCondition(conditions, {
      type: 'Complete',
      status: 'True',
      reason: 'CompletionsReached',
      message: 'Reached expected number of succeeded pods',
    });
    status.completionTime = now;
  }
  for (const condition of conditions) condition.lastProbeTime = condition.lastTransitionTime;
  status.conditions = conditions;
  writeStatus(store, 'jobs', job, status);
};

export const reconcileJob = (store: Store, job: KubeObject): void => {
  if (finished(job)) {
    collectTtl(store, job);
    return;
  }
  const pods = ownedObjects(store, 'pods', job);
  const active = pods.filter((pod) => !['Succeeded', 'Failed'].includes(pod.status?.phase));
  const succeeded = pods.filter((pod) => pod.status?.phase === 'Succeeded').length;
  const failed = pods.filter((pod) => pod.status?.phase === 'Failed').length;
  const ready = active.filter((pod) => conditionHolds(pod, 'Ready')).length;
  const status = {
    ...job.status,
    startTime: job.status?.startTime ?? nowTimestamp(),
    active: active.length,
    ready,
    terminating: 0,
    uncountedTerminatedPods: {},
    ...(succeeded ? { succeeded } : {}),
    ...(failed ? { failed } : {}),
  };
  if (job.spec?.suspend) {
    writeStatus(store, 'jobs', job, status);
    return;
  }
  const completions = job.spec?.completions ?? 1;
  const failure = failureReason({ ...job, status }, failed);
  if (failure || succeeded >= completions) {
    finish(store, job, status, active, failure);
    return;
  }
  const wanted = Math.min(job.spec?.parallelism ?? 1, completions - succeeded) - active.length;
  for (let index = 0; index < wanted; index += 1) {
    createPodFromTemplate(store, job, job.metadata.name ?? 'job');
    status.active += 1;
  }
  writeStatus(store, 'jobs', job, status);
};
