import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PUSH_USAGE } from '../../lib/push/options.ts';

/** OFFLINE-IMAGES.md documents every flag of the push and the default its usage text gives. */

const guide = await readFile(join(import.meta.dirname, '../../OFFLINE-IMAGES.md'), 'utf8');
const section = guide.slice(
  guide.indexOf('### Push options'),
  guide.indexOf('## Reading the import Job logs'),
);

const usageLines = PUSH_USAGE.split('\n').filter((line) => /^\s+(?:-\w, )?--/.test(line));
const flagOf = (line: string) => /^\s+(?:-\w, )?(--[\w-]+)/.exec(line)?.[1] ?? '';
const firstCell = (row: string) => (row.startsWith('| ') ? (row.split('|')[1] ?? '') : '');
const rowOf = (flag: string) =>
  section.split('\n').find((row) => new RegExp(`\`${flag}(?![\\w-])`).test(firstCell(row)));

describe('the push section of OFFLINE-IMAGES.md', () => {
  it('has a row for every flag of the usage text, and no other', () => {
    const flags = usageLines.map(flagOf);
    expect(flags).toContain('--registry');
    expect(flags.filter((flag) => rowOf(flag) === undefined)).toEqual([]);
    const rows = section
      .split('\n')
      .flatMap((row) => [...firstCell(row).matchAll(/`(--[\w-]+)/g)].map((match) => match[1] ?? ''));
    expect(rows.filter((flag) => !flags.includes(flag))).toEqual([]);
  });

  it('gives each flag the default the usage text gives', () => {
    for (const line of usageLines) {
      const value = /\(default: ([^)]+)\)/.exec(line)?.[1];
      if (!value) continue;
      const row = rowOf(flagOf(line)) ?? '';
      expect(row.includes(`\`${value}\``) || row.includes(value), `${flagOf(line)}: ${row}`).toBe(true);
    }
  });
});
