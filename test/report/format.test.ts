import { describe, expect, it } from 'vitest';
import { formatBytes, formatRate, formatSeconds, formatTable } from '../../lib/report/format.ts';

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [10 * 1024, '10 KiB'],
    [4 * 1024 * 1024, '4.0 MiB'],
    [300 * 1024 * 1024, '300 MiB'],
    [1024 ** 3, '1.0 GiB'],
    [5 * 1024 ** 4, '5.0 TiB'],
    [2048 * 1024 ** 4, '2048 TiB'],
  ])('%d bytes -> %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe('formatSeconds and formatRate', () => {
  it('keeps two decimals under 10 s and one above', () => {
    expect(formatSeconds(1.234)).toBe('1.23s');
    expect(formatSeconds(12.34)).toBe('12.3s');
  });

  it('prints a rate per second, and a dash before any time has passed', () => {
    expect(formatRate(3 * 1024 * 1024, 2)).toBe('1.5 MiB/s');
    expect(formatRate(1024, 0)).toBe('-');
  });
});

describe('formatTable', () => {
  it('pads every column but the last to its widest cell', () => {
    expect(
      formatTable([
        ['IMAGE', 'SIZE', 'RESULT'],
        ['nginx_1.25.tar.gz', '12 MiB', 'imported'],
        ['a.tar', '-', 'failed'],
      ]),
    ).toBe(
      [
        'IMAGE              SIZE    RESULT',
        'nginx_1.25.tar.gz  12 MiB  imported',
        'a.tar              -       failed',
      ].join('\n'),
    );
  });
});
