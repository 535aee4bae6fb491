import type { AirlockErrorOptions } from '../errors.ts';
import { NetworkError } from './errors.ts';

/** A 429 or 5xx answer: worth another attempt, after the delay the registry asked for if it asked. */
export class RetryableStatusError extends NetworkError {
  readonly status: number;
  readonly retryAfterMs: number | undefined;

  constructor(
    host: string,
    status: number,
    reason: string,
    retryAfterMs?: number,
    options?: AirlockErrorOptions,
  ) {
    super(host, reason, options);
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
