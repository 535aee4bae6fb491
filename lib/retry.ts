import { setTimeout as sleep } from 'node:timers/promises';
import { type ErrorCode, isAirlockError } from './errors.ts';
import type { Logger } from './report/log.ts';

/**
 * One retry loop for the registry client and the importer: the same errors count as transient (a network blip,
 * a stall, a runtime that restarts), the same backoff, and the same warning line.
 */
export interface RetryPolicy {
  /** Attempts after the first one. */
  retries: number;
  logger: Logger;
  /** First backoff; doubles per attempt, with jitter. Default 1 s. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** An error that says how long to wait before the next attempt (a registry's Retry-After). */
export interface RequestedDelay {
  retryAfterMs?: number | undefined;
}

const TRANSIENT: ReadonlySet<ErrorCode> = new Set(['NETWORK', 'TIMEOUT', 'RUNTIME_UNREACHABLE']);

/** Worth another attempt: bad archives, refused credentials and missing images are not. */
export const isRetryable = (error: unknown): boolean => isAirlockError(error) && TRANSIENT.has(error.code);

export const backoffDelay = (attempt: number, policy: RetryPolicy, error: unknown): number => {
  const max = policy.maxDelayMs ?? 30_000;
  const requested = (error as RequestedDelay | undefined)?.retryAfterMs;
  if (isRetryable(error) && typeof requested === 'number') return Math.min(max, requested);
  const exponential = Math.min(max, (policy.baseDelayMs ?? 1000) * 2 ** attempt);
  return Math.round(exponential / 2 + (Math.random() * exponential) / 2);
};

/**
 * A shared budget of retries, so that one blob that resumes three times and one manifest that sees a 503
 * both draw from the same count the operator configured.
 */
export class RetryBudget {
  private used = 0;

  constructor(private readonly policy: RetryPolicy) {}

  get remaining(): number {
    return this.policy.retries - this.used;
  }

  /** Waits before the next attempt and returns true, or returns false when the error must be thrown. */
  async next(error: unknown, label: string | undefined, signal?: AbortSignal): Promise<boolean> {
    if (!isRetryable(error) || this.remaining <= 0 || signal?.aborted) return false;
    const delay = backoffDelay(this.used, this.policy, error);
    this.used += 1;
    const { message } = error as Error;
    const what = !label || message.startsWith(label) ? message : `${label}: ${message}`;
    this.policy.logger.warn(
      `${what} — retry ${this.used}/${this.policy.retries} in ${(delay / 1000).toFixed(1)}s`,
    );
    await sleep(delay, undefined, signal ? { signal } : undefined);
    return true;
  }
}

export interface RetryOptions extends RetryPolicy {
  /** Put in front of the error's message in the warning, unless the message already starts with it. */
  label?: string;
  signal?: AbortSignal | undefined;
}

/** Runs `attempt` until it succeeds, fails with a non-retryable error, or the budget runs out. */
export const withRetries = async <T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T> => {
  const budget = new RetryBudget(options);
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (!(await budget.next(error, options.label, options.signal))) throw error;
    }
  }
};
