import { setTimeout as sleep } from 'node:timers/promises';
import { isAirlockError } from '../errors.ts';
import type { Logger } from '../report/log.ts';

/** Errors worth another try: the runtime restarted or briefly stopped answering. Bad archives are not retried. */
const isTransient = (error: unknown): boolean =>
  isAirlockError(error) &&
  (error.code === 'RUNTIME_UNREACHABLE' || error.code === 'TIMEOUT' || error.code === 'NETWORK');

export interface RetryOptions {
  retries: number;
  logger: Logger;
  signal?: AbortSignal;
  /** First wait in milliseconds, doubled each time. */
  delayMs?: number;
}

export const withRetries = async <T>(
  operation: () => Promise<T>,
  { retries, logger, signal, delayMs = 1000 }: RetryOptions,
): Promise<T> => {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= retries || !isTransient(error) || signal?.aborted) throw error;
      const wait = delayMs * 2 ** attempt;
      logger.warn(`${(error as Error).message} — retrying in ${wait / 1000}s (${attempt + 1}/${retries})`);
      await sleep(wait, undefined, signal ? { signal } : undefined);
    }
  }
};
