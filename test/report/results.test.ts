import { describe, expect, it } from 'vitest';
import { AirlockError } from '../../lib/errors.ts';
import {
  countOutcomes,
  failedResult,
  formatCounts,
  formatFailureLine,
  formatResultLine,
  formatResultTable,
  type ImageResult,
} from '../../lib/report/results.ts';
import { formatJsonLine, summarizeResults } from '../../lib/report/summary.ts';

const imported: ImageResult = {
  image: 'nginx_1.25.tar.gz',
  outcome: 'imported',
  seconds: 1.5234,
  bytes: 12 * 1024 * 1024,
  names: ['docker.io/library/nginx:1.25'],
};
const skipped: ImageResult = {
  image: 'redis_7.tar.gz',
  outcome: 'skipped',
  seconds: 0.01,
  reason: 'already present',
};
const failed: ImageResult = {
  image: 'docker.io/library/app:1',
  outcome: 'failed',
  seconds: 2,
  reason: 'manifest unknown',
  code: 'NOT_FOUND',
};

describe('result lines', () => {
  it('prints one line per image: outcome, image, size, seconds, reason', () => {
    expect(formatResultLine(imported)).toBe('imported  nginx_1.25.tar.gz  12 MiB  1.52s');
    expect(formatResultLine(skipped)).toBe('skipped   redis_7.tar.gz  0.01s  — already present');
  });

  it('names the image once in a failure line, with the code operators grep for', () => {
    expect(formatFailureLine(failed)).toBe('docker.io/library/app:1: manifest unknown [NOT_FOUND]');
    expect(formatFailureLine({ ...failed, reason: 'disk full', code: undefined })).toBe(
      'docker.io/library/app:1: disk full',
    );
  });

  it('builds a failed result from an AirlockError with its code, from a bug with its stack', () => {
    const started = performance.now();
    const expected = failedResult(
      'a',
      started,
      new AirlockError('TIMEOUT', 'took too long', { subject: 'a' }),
    );
    expect(expected).toMatchObject({
      image: 'a',
      outcome: 'failed',
      reason: 'took too long',
      code: 'TIMEOUT',
    });
    expect(formatFailureLine(expected)).toBe('a: took too long [TIMEOUT]');
    expect(expected.seconds).toBeGreaterThanOrEqual(0);
    const bug = failedResult('b', started, new TypeError('x is undefined'));
    expect(bug.code).toBeUndefined();
    expect(bug.reason).toMatch(/^TypeError: x is undefined\n\s+at /);
  });
});

describe('errors about another subject', () => {
  it('keeps the subject in the reason when the error is about something other than the image', () => {
    const error = new AirlockError('ARCHIVE_CORRUPT', 'bad tar header at byte 512', {
      subject: '/images/a.tar',
    });
    expect(error.message).toBe('/images/a.tar: bad tar header at byte 512');
    const result = failedResult('a.tar', performance.now(), error);
    expect(result.reason).toBe('/images/a.tar: bad tar header at byte 512');
    expect(formatFailureLine(result)).toBe(
      'a.tar: /images/a.tar: bad tar header at byte 512 [ARCHIVE_CORRUPT]',
    );
  });

  it('reads an error without a subject as its whole message', () => {
    const result = failedResult('a', performance.now(), new AirlockError('NETWORK', 'connection reset'));
    expect(formatFailureLine(result)).toBe('a: connection reset [NETWORK]');
  });
});

describe('counts and tables', () => {
  it('counts outcomes and leaves zero counts out of the sentence', () => {
    expect(countOutcomes([imported, skipped, failed])).toEqual({
      exported: 0,
      pushed: 0,
      imported: 1,
      skipped: 1,
      failed: 1,
    });
    expect(formatCounts([imported, skipped, failed])).toBe('1 imported, 1 skipped, 1 failed');
    expect(formatCounts([])).toBe('nothing to do');
  });

  it('prints the end-of-run table with a dash for an unknown size', () => {
    expect(formatResultTable([imported, skipped]).split('\n')).toEqual([
      'IMAGE              SIZE    RESULT    SECONDS  REASON',
      'nginx_1.25.tar.gz  12 MiB  imported  1.52',
      'redis_7.tar.gz     -       skipped   0.01     already present',
    ]);
  });
});

describe('JSON summaries', () => {
  it('names the subject as the command calls it and rounds seconds to two decimals', () => {
    expect(summarizeResults([imported], 'archive')).toEqual([
      {
        archive: 'nginx_1.25.tar.gz',
        outcome: 'imported',
        seconds: 1.52,
        bytes: 12 * 1024 * 1024,
        names: ['docker.io/library/nginx:1.25'],
      },
    ]);
  });

  it('writes one JSON line tagged with its kind', () => {
    expect(formatJsonLine('import-summary', { node: 'n1', failed: 0 })).toBe(
      '{"airlock":"import-summary","node":"n1","failed":0}\n',
    );
  });
});
