import { describe, expect, it } from 'vitest';
import { parseRetryAfter, RetryableStatusError } from '../../lib/registry/retry.ts';
import { silentLogger } from '../../lib/report/log.ts';
import { backoffDelay } from '../../lib/retry.ts';

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it.each([
    ['3', 3000],
    [' 0 ', 0],
    ['Wed, 01 Jan 2025 00:00:10 GMT', 10_000],
    ['Tue, 31 Dec 2024 23:59:00 GMT', 0],
    ['soon', undefined],
    [undefined, undefined],
  ])('%j -> %j ms', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe('backoffDelay', () => {
  const policy = { retries: 4, logger: silentLogger, baseDelayMs: 1000, maxDelayMs: 30_000 };

  it('grows exponentially with jitter and stops at the cap', () => {
    for (const attempt of [0, 1, 2, 3]) {
      const delay = backoffDelay(attempt, policy, new Error('x'));
      expect(delay).toBeGreaterThanOrEqual(2 ** attempt * 500);
      expect(delay).toBeLessThanOrEqual(2 ** attempt * 1000);
    }
    expect(backoffDelay(10, policy, new Error('x'))).toBeLessThanOrEqual(30_000);
  });

  it('honours Retry-After, capped', () => {
    expect(backoffDelay(0, policy, new RetryableStatusError('h', 429, 'm', 7000))).toBe(7000);
    expect(backoffDelay(0, policy, new RetryableStatusError('h', 429, 'm', 3_600_000))).toBe(30_000);
  });
});
