import { appendFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { followCriLog, formatLog, parseCriLog, readCriLog } from '../../rig/pods/index.ts';

// As containerd 1.6 writes them: a partial line (P) is continued by the next entry of the same stream.
const LOG = [
  '2026-12-02T06:00:00.000000001Z stdout F first line',
  '2026-12-02T06:00:01.000000002Z stderr F a warning',
  '2026-12-02T06:00:02.000000003Z stdout P long li',
  '2026-12-02T06:00:02.000000004Z stdout F ne, split',
  '2026-12-02T06:00:03.000000005Z stdout F last line',
  '',
].join('\n');

const entries = parseCriLog(LOG).entries;

describe('CRI log files as kubectl logs text', () => {
  it('joins partial entries and interleaves both streams', () => {
    expect(formatLog(entries)).toBe('first line\na warning\nlong line, split\nlast line\n');
  });

  it('counts a split line once for tailLines', () => {
    expect(formatLog(entries, { tailLines: 2 })).toBe('long line, split\nlast line\n');
    expect(formatLog(entries, { tailLines: 0 })).toBe('');
    expect(formatLog(entries, { tailLines: -1 })).toBe(formatLog(entries));
  });

  it('prefixes each entry with its nanosecond timestamp', () => {
    expect(formatLog(entries, { tailLines: 1, timestamps: true })).toBe(
      '2026-12-02T06:00:03.000000005Z last line\n',
    );
  });

  it('cuts the output at limitBytes', () => {
    expect(formatLog(entries, { limitBytes: 13 })).toBe('first line\na ');
  });

  it('keeps only lines since a time, and one stream', () => {
    expect(formatLog(entries, { sinceTime: new Date('2026-12-02T06:00:02Z') })).toBe(
      'long line, split\nlast line\n',
    );
    expect(formatLog(entries, { stream: 'Stderr' })).toBe('a warning\n');
  });

  it('leaves a line still being written for the next read', () => {
    const { entries: complete, rest } = parseCriLog(
      '2026-12-02T06:00:00Z stdout F done\n2026-12-02T06:00:01Z stdout F hal',
    );
    expect(complete.map((entry) => entry.text)).toEqual(['done\n']);
    expect(rest).toBe('2026-12-02T06:00:01Z stdout F hal');
  });

  it('reads a missing file (container never started) as empty', async () => {
    expect(await readCriLog(join(tmpdir(), 'airlock-no-such-log', '0.log'))).toBe('');
  });

  it('follows a growing file until the container is finished', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'airlock-log-')), '0.log');
    await writeFile(file, `${LOG.split('\n').slice(0, 2).join('\n')}\n`);
    let done = false;
    const chunks: string[] = [];
    const following = (async () => {
      for await (const chunk of followCriLog(file, {
        tailLines: 1,
        finished: async () => done,
        pollInterval: 20,
      })) {
        chunks.push(chunk);
        if (chunks.length === 1) {
          await appendFile(file, '2026-12-02T06:00:05Z stdout F appended\n');
          done = true;
        }
      }
    })();
    await following;
    expect(chunks).toEqual(['a warning\n', 'appended\n']);
  });
});
