// Runs every controller as one pass over the store: after each change (batched) and once a second, which is
// how timers (deadlines, TTLs, heartbeats) take effect. Each controller is idempotent, so extra passes are free.
import type { Store } from '../api/store.ts';
import { reconcileDaemonSet } from './daemonset.ts';
import { reconcileDeployment } from './deployment.ts';
import {
  collectGarbage,
  ensureDefaultServiceAccounts,
  finishNamespaces,
  watchNodeHeartbeats,
} from './housekeeping.ts';
import { reconcileJob } from './job.ts';
import { reconcileReplicaSet } from './replicaset.ts';
import { schedulePods } from './scheduler.ts';

const TICK = 1_000;

const pass = (store: Store): void => {
  ensureDefaultServiceAccounts(store);
  finishNamespaces(store);
  collectGarbage(store);
  watchNodeHeartbeats(store);
  for (const deployment of store.list('deployments')) reconcileDeployment(store, deployment);
  for (const replicaSet of store.list('replicasets')) reconcileReplicaSet(store, replicaSet);
  for (const daemonSet of store.list('daemonsets')) reconcileDaemonSet(store, daemonSet);
  for (const job of store.list('jobs')) reconcileJob(store, job);
  schedulePods(store);
};

export const startControllers = (store: Store, log?: (line: string) => void): (() => void) => {
  let scheduled = false;
  let running = false;
  const run = (): void => {
    scheduled = false;
    if (running) return;
    running = true;
    try {
      pass(store);
    } catch (error) {
      log?.(`controller pass failed: ${error instanceof Error ? error.stack : error}`);
    } finally {
      running = false;
    }
  };
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setTimeout(run, 20);
  };
  const unsubscribe = store.subscribe(schedule);
  const ticker = setInterval(schedule, TICK);
  return () => {
    unsubscribe();
    clearInterval(ticker);
  };
};
