import { AirlockError } from '../errors.ts';
import type { ImportTarOptions } from './types.ts';

/** One signal for "stop now": the caller's abort or the import's own time limit, whichever comes first. */
export interface Deadline {
  signal: AbortSignal;
  /** Why it stopped: the caller's abort reason, or a TIMEOUT AirlockError. */
  reason(): unknown;
  dispose(): void;
}

export const startDeadline = (what: string, options: ImportTarOptions = {}): Deadline => {
  const controller = new AbortController();
  const { signal, timeoutMs } = options;
  const onAbort = (): void => controller.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          controller.abort(
            new AirlockError(
              'TIMEOUT',
              `not finished after ${Math.round(timeoutMs / 100) / 10}s, stopped — raise the per-image timeout (--timeout / AIRLOCK_TIMEOUT) for large images or check the runtime's load and disk`,
              { subject: what },
            ),
          );
        }, timeoutMs);
  return {
    signal: controller.signal,
    reason: () => controller.signal.reason,
    dispose: () => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
};
