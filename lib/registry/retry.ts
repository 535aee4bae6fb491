import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../report/log.ts';
import { NetworkError, TimeoutError } from './errors.ts';

export interface RetryPolicy {
  /** Attempts after the first one. */
  retries: number;
  logger: Logger;
  /** First backoff; doubles per attempt, with jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** A 429 or 5xx answer: worth another attempt, after the delay the registry asked for if it asked. */
export class RetryableStatusError extends NetworkError {
  readonly status: number;
  readonly retryAfterMs: number | undefined;

  constructor(host: string, status: number, message: string, retryAfterMs?: number, options?: ErrorOptions) {
    super(host, message, options);
    this.name = 'RetryableStatusError';
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/** `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`. */
export const parseRetryAfter = (value: string | undefined, now = Date.now()): number | undefined => {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
};

export const isRetryable = (error: unknown): error is NetworkError | TimeoutError =>
  error instanceof NetworkError || error instanceof TimeoutError;

export const backoffDelay = (attempt: number, policy: RetryPolicy, error: unknown): number => {
  const max = policy.maxDelayMs ?? 30_000;
  if (error instanceof RetryableStatusError && error.retryAfterMs !== undefined) {
    return Math.min(max, error.retryAfterMs);
  }
  const exponential = Math.min(max, (policy.baseDelayMs ?? 250) * 2 ** attempt);
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
  async next(error: unknown, label: string, signal?: AbortSignal): Promise<boolean> {
    if (!isRetryable(error) || this.remaining <= 0) return false;
    const delay = backoffDelay(this.used, this.policy, error);
    this.used += 1;
    const { message } = error as Error;
    const what = message.startsWith(label) ? message : `${label}: ${message}`;
    this.policy.logger.warn(
      `${what} — retry ${this.used}/${this.policy.retries} in ${(delay / 1000).toFixed(1)}s`,
    );
    await sleep(delay, undefined, { signal });
    return true;
  }
}

/** Runs `attempt` until it succeeds, fails with a non-retryable error, or the budget runs out. */
export const withRetries = async <T>(
  label: string,
  policy: RetryPolicy,
  attempt: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> => {
  const budget = new RetryBudget(policy);
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (!(await budget.next(error, label, signal))) throw error;
    }
  }
};
