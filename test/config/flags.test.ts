import { describe, expect, it } from 'vitest';
import { parseFlags, wholeNumber, wholeNumberFrom } from '../../lib/config/flags.ts';

const SPECS = {
  chart: { type: 'string' },
  values: { type: 'string', short: 'f', multiple: true },
  list: { type: 'boolean' },
} as const;

describe('parseFlags', () => {
  it('reads strings, repeated flags, short names and switches', () => {
    expect(parseFlags(['--chart', 'helm', '-f', 'a.yaml', '--values=b.yaml', '--list'], SPECS)).toEqual({
      chart: 'helm',
      values: ['a.yaml', 'b.yaml'],
      list: true,
    });
  });

  it.each([
    [['--frobnicate', '--chart', 'x', '--x=1'], 'unknown option --frobnicate, --x — see --help'],
    [['--chrt', 'x'], 'unknown option --chrt (did you mean --chart?) — see --help'],
    [
      ['--lsit', '--valuez', 'a'],
      'unknown option --lsit (did you mean --list?), --valuez (did you mean --values?) — see --help',
    ],
    [['--chart', 'x', 'stray'], 'unexpected argument stray — options start with -- (see --help)'],
    [['--chart'], "Option '--chart <value>' argument missing — see --help"],
    [['--list=yes'], "Option '--list' does not take an argument — see --help"],
  ])('refuses %j in one line', (argv, message) => {
    expect(() => parseFlags(argv, SPECS)).toThrow(expect.objectContaining({ code: 'BAD_INPUT', message }));
  });
});

describe('whole numbers', () => {
  it('reads a whole number at or above the minimum', () => {
    expect(wholeNumber('retries', '0', 0)).toBe(0);
    expect(wholeNumberFrom('AIRLOCK_CONCURRENCY', '4', 1)).toBe(4);
  });

  it.each([
    [
      () => wholeNumber('concurrency', '0', 1),
      '--concurrency',
      '--concurrency: expected a whole number of at least 1, got "0"',
    ],
    [
      () => wholeNumber('retries', '1.5', 0),
      '--retries',
      '--retries: expected a whole number of at least 0, got "1.5"',
    ],
    [
      () => wholeNumberFrom('AIRLOCK_TIMEOUT', 'ten', 1),
      'AIRLOCK_TIMEOUT',
      'AIRLOCK_TIMEOUT: expected a whole number of at least 1, got "ten"',
    ],
  ])('refuses a bad value naming the flag or variable it came from (%#)', (read, subject, message) => {
    expect(read).toThrow(expect.objectContaining({ code: 'BAD_INPUT', subject, message }));
  });
});
