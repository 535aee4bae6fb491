// Runs every controller as one pass over the store: after each change (batched) and once a second, which is
// how timers (deadlines, TTLs, heartbeats) take effect. Each controller is idempotent, so extra passes are free.
import type { Store } from '../api/store.ts';
import type { KubeObject } from '../api/types.ts';
import { reconcileDaemonSet } from './daemonset.ts';
import { reconcileDeployment } from './deployment.ts';
import {
  collectGarbage,
  ensureDefaultServiceAccounts,
  finishNamespaces,
  publishRootCa,
  watchNodeHeartbeats,
} from './housekeeping.ts';
import { reconcileJob } from './job.ts';
import { reconcileReplicaSet } from './replicaset.ts';
import { schedulePods } from './scheduler.ts';

const TICK = 1_000;

export interface ControllerOptions {
  log?: (line: string) => void;
  /** The cluster CA, published as kube-root-ca.crt in every namespace. */
  caPem?: string;
}

// One object's failure (a pod refused by admission, say) leaves the others reconciled; the next pass retries.
const each = (objects: KubeObject[], reconcile: (object: KubeObject) => void, options: ControllerOptions) => {
  for (const object of objects) {
    try {
      reconcile(object);
    } catch (error) {
      options.log?.(`${object.kind} ${object.metadata.namespace}/${object.metadata.name}: ${error}`);
    }
  }
};

const pass = (store: Store, options: ControllerOptions): void => {
  ensureDefaultServiceAccounts(store);
  if (options.caPem) publishRootCa(store, options.caPem);
  finishNamespaces(store);
  collectGarbage(store);
  watchNodeHeartbeats(store);
  each(store.list('deployments'), (deployment) => reconcileDeployment(store, deployment), options);
  each(store.list('replicasets'), (replicaSet) => reconcileReplicaSet(store, replicaSet), options);
  each(store.list('daemonsets'), (daemonSet) => reconcileDaemonSet(store, daemonSet), options);
  each(store.list('jobs'), (job) => reconcileJob(store, job), options);
  schedulePods(store);
};

export const startControllers = (store: Store, options: ControllerOptions = {}): (() => void) => {
  const { log } = options;
  let scheduled = false;
  let running = false;
  const run = (): void => {
    scheduled = false;
    if (running) return;
    running = true;
    try {
      pass(store, options);
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
