// Reads the fenced blocks, sections and tables of the project's Markdown documents, for the docs tests.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPOSITORY_ROOT } from '../../scripts/build-importer-image.ts';

/** The documents whose shell blocks are tested, in the order their runnable blocks run. */
export const TESTED_DOCUMENTS = [
  'README.md',
  'OFFLINE-IMAGES.md',
  'docs/archive-format.md',
  'docs/testing.md',
  'docs/reliability.md',
  'docs/benchmarks.md',
] as const;

export const SHELL_LANGUAGES = new Set(['sh', 'bash', 'shell', 'console', 'zsh']);

/**
 * The marker comment on the line before a shell block says what the docs test does with it:
 * `runnable` blocks are executed on the rig; the others say why they are not.
 */
export const MARKERS = {
  runnable: /^<!-- runnable -->$/,
  needsCluster: /^<!-- needs a cluster -->$/,
  notRun: /^<!-- not run by the docs test: \S.* -->$/,
} as const;

export type Marker = keyof typeof MARKERS;

export interface FencedBlock {
  document: string;
  /** 1-based line of the opening fence. */
  line: number;
  language: string;
  body: string;
  /** The comment on the closest non-blank line above the fence, if that line is one. */
  comment?: string;
}

export const readDocument = (name: string): Promise<string> => readFile(join(REPOSITORY_ROOT, name), 'utf8');

export const fencedBlocks = (document: string, text: string): FencedBlock[] => {
  const lines = text.split('\n');
  const blocks: FencedBlock[] = [];
  for (let index = 0; index < lines.length; index++) {
    const open = /^```(\S*)\s*$/.exec(lines[index] ?? '');
    if (!open) continue;
    const start = index;
    const body: string[] = [];
    for (index += 1; index < lines.length && !/^```\s*$/.test(lines[index] ?? ''); index++) {
      body.push(lines[index] ?? '');
    }
    let above = start - 1;
    while (above >= 0 && (lines[above] ?? '').trim() === '') above--;
    const previous = (lines[above] ?? '').trim();
    blocks.push({
      document,
      line: start + 1,
      language: open[1] ?? '',
      body: body.join('\n'),
      ...(previous.startsWith('<!--') ? { comment: previous } : {}),
    });
  }
  return blocks;
};

export const markerOf = (block: FencedBlock): Marker | undefined =>
  (Object.keys(MARKERS) as Marker[]).find((marker) => MARKERS[marker].test(block.comment ?? ''));

/** The text from a heading line (exact) to the next heading of the same or a higher level. */
export const section = (text: string, heading: string): string => {
  const lines = text.split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`no heading ${JSON.stringify(heading)}`);
  const level = heading.indexOf(' ');
  const end = lines.findIndex(
    (line, index) => index > start && /^#+ /.test(line) && line.indexOf(' ') <= level,
  );
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
};

/** The first cell of every row of the Markdown tables in `text`, header and separator rows left out. */
export const firstCells = (text: string): string[] => {
  const rows = text.split('\n').filter((line) => line.startsWith('|'));
  const cells = rows.map((row) => row.split(/(?<!\\)\|/)[1]?.trim() ?? '');
  return cells.filter((cell) => cell !== '' && !/^-+$/.test(cell) && !/^[A-Z][a-z]+$/.test(cell));
};

/** Backquoted spans in a Markdown fragment, unescaped (`a\|b` -> `a|b`). */
export const codeSpans = (text: string): string[] =>
  [...text.matchAll(/`([^`]+)`/g)].map((match) => (match[1] ?? '').replaceAll('\\|', '|'));
