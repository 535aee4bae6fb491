// A pod started on a node: the runner's sync loop in the background, its status for the API server, and its
// logs the way kubelet serves them.
import { join } from 'node:path';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { IPodStatus } from 'kubernetes-models/v1/PodStatus';
import { type ContainerRecord, exited } from './containers.ts';
import { followCriLog, readCriLog } from './logs.ts';
import { PodRunner, podLogDirectory } from './runner.ts';
import type { LogOptions, PodHandle, PodRunnerOptions } from './types.ts';

/** A log request kubelet refuses (400 in the API): container unknown, not started, or no previous instance. */
export class PodLogsError extends Error {
  readonly code = 'LOGS_UNAVAILABLE' as const;
}

const delay = (ms: number) =>
  new Promise<void>((resolve) => {
    // Unreferenced: a pending sync never keeps a script or test worker alive.
    setTimeout(resolve, ms).unref();
  });

const findRecord = (runner: PodRunner, name: string | undefined): ContainerRecord => {
  const podName = runner.pod.metadata?.name;
  if (name === undefined) {
    if (runner.containers.length === 1) return runner.containers[0]!;
    const names = runner.containers.map((record) => record.spec.name).join(' ');
    throw new PodLogsError(
      `a container name must be specified for pod ${podName}, choose one of: [${names}]`,
    );
  }
  const record = [...runner.containers, ...runner.inits].find((candidate) => candidate.spec.name === name);
  if (!record) throw new PodLogsError(`container ${name} is not valid for pod ${podName}`);
  return record;
};

const logFile = (runner: PodRunner, record: ContainerRecord, previous: boolean): string => {
  const podName = runner.pod.metadata?.name;
  const name = record.spec.name;
  if (previous) {
    if (!record.previous)
      throw new PodLogsError(`previous terminated container "${name}" in pod "${podName}" not found`);
    return join(podLogDirectory(runner.node, runner.pod), name, `${record.attempt - 1}.log`);
  }
  if (!record.id) {
    const reason = record.waiting?.reason ?? (record.init ? 'PodInitializing' : 'ContainerCreating');
    throw new PodLogsError(`container "${name}" in pod "${podName}" is waiting to start: ${reason}`);
  }
  return join(podLogDirectory(runner.node, runner.pod), name, `${record.attempt}.log`);
};

type Listener = (status: IPodStatus) => void;

const waitForStatus = (
  runner: PodRunner,
  listeners: Set<Listener>,
  predicate: (status: IPodStatus) => boolean,
  timeout: number,
): Promise<IPodStatus> =>
  new Promise((resolve, reject) => {
    if (predicate(runner.status())) return resolve(runner.status());
    const check = (status: IPodStatus) => {
      if (!predicate(status)) return;
      clearTimeout(timer);
      listeners.delete(check);
      resolve(status);
    };
    const timer = setTimeout(() => {
      listeners.delete(check);
      const summary = JSON.stringify(runner.status());
      const name = runner.pod.metadata?.name;
      reject(new Error(`pod ${name}: condition not reached within ${timeout} ms; status ${summary}`));
    }, timeout);
    listeners.add(check);
  });

const logReaders = (runner: PodRunner): Pick<PodHandle, 'logs' | 'followLogs'> => ({
  logs: async (options: LogOptions = {}) => {
    const record = findRecord(runner, options.container);
    return readCriLog(logFile(runner, record, options.previous ?? false), options);
  },
  followLogs: (options = {}) => {
    const record = findRecord(runner, options.container);
    const path = logFile(runner, record, options.previous ?? false);
    const attempt = record.attempt;
    // The instance is done once it exited, was replaced by a restart, or the pod was stopped.
    const finished = async () =>
      options.previous === true || runner.stopped || record.attempt !== attempt || exited(record);
    return followCriLog(path, { ...options, finished });
  },
});

/** Starts running `pod` (metadata.name and metadata.uid required) on the node behind `options.address`. */
export const startPod = (pod: IPod, options: PodRunnerOptions): PodHandle => {
  const runner = new PodRunner(pod, options);
  const listeners = new Set<Listener>();
  const notify = () => {
    for (const listener of listeners) listener(runner.status());
  };
  // Syncs, stops and removal run one at a time, in the order asked.
  let queue: Promise<unknown> = Promise.resolve();
  const serialize = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work);
    queue = next.catch(() => undefined);
    return next;
  };
  const sync = () =>
    serialize(async () => {
      try {
        if (await runner.sync()) notify();
      } catch (error) {
        runner.event('Warning', 'FailedSync', (error as Error).message);
      }
      return runner.status();
    });
  let removed = false;
  void (async () => {
    while (!removed && !runner.stopped) {
      await sync();
      await delay(options.syncInterval ?? 500);
    }
  })();

  return {
    pod,
    uid: pod.metadata!.uid!,
    status: () => runner.status(),
    refresh: sync,
    waitFor: (predicate, timeout = 60_000) => waitForStatus(runner, listeners, predicate, timeout),
    onStatus: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    events: () => runner.events.map((event) => ({ ...event })),
    ...logReaders(runner),
    stop: (graceSeconds) => serialize(() => runner.stop(graceSeconds)).then(notify),
    remove: (graceSeconds) => {
      removed = true;
      return serialize(() => runner.remove(graceSeconds));
    },
  };
};
