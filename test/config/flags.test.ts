import { describe, expect, it } from 'vitest';
import { parseFlags } from '../../lib/config/flags.ts';

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
