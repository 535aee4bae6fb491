// How the watcher reads a child importer's output: the results of its import-summary line, or one reason why the
// pass produced none (the summary's error, the importer's last error line, or its exit code).
import { describe, expect, it } from 'vitest';
import { ImportPassError, readPassOutput } from '../../lib/import/watch-child.ts';

const summaryLine = (fields: Record<string, unknown>) =>
  JSON.stringify({ airlock: 'import-summary', node: 'n', ...fields });

describe('readPassOutput', () => {
  it('takes every result of the summary, the runtime, and the warning and error lines', () => {
    const stdout = [
      'airlock importer 0.1.0 on node n: containerd 1.6.20 at /run/c.sock (namespace k8s.io), 2 archive(s) in /images',
      'warning: web.tar: an unnamed manifest was left out',
      'imported  web.tar  1.0 MiB  0.50s',
      summaryLine({
        runtime: 'containerd',
        endpoint: '/run/c.sock',
        results: [
          {
            archive: 'web.tar',
            outcome: 'imported',
            bytes: 1048576,
            names: ['example.com/web:1'],
            seconds: 0.5,
          },
          {
            archive: 'bad.tar',
            outcome: 'failed',
            reason: 'not in SHA256SUMS',
            code: 'CHECKSUM_MISMATCH',
            seconds: 0,
          },
        ],
      }),
      '',
    ].join('\n');
    expect(readPassOutput('node', stdout, 0)).toEqual({
      results: [
        { image: 'web.tar', outcome: 'imported', bytes: 1048576, names: ['example.com/web:1'], seconds: 0.5 },
        {
          image: 'bad.tar',
          outcome: 'failed',
          reason: 'not in SHA256SUMS',
          code: 'CHECKSUM_MISMATCH',
          seconds: 0,
        },
      ],
      runtime: { kind: 'containerd', endpoint: '/run/c.sock' },
      notes: ['warning: web.tar: an unnamed manifest was left out'],
    });
  });

  it('fails the pass with the summary’s error when the importer could not import at all', () => {
    const stdout = `error: containerd at /run/c.sock: not reachable\n${summaryLine({ runtime: null, error: 'containerd at /run/c.sock: not reachable', imported: 0 })}\n`;
    expect(() => readPassOutput('node', stdout, 0)).toThrow(
      new ImportPassError('node', 'containerd at /run/c.sock: not reachable'),
    );
  });

  it('fails the pass with the last error line when there is no summary (a runtime file that does not match)', () => {
    const stdout =
      'error: importer/linux-amd64/bin/ctr: does not match SHA256SUMS — copy the exported images directory to this node again\n';
    expect(() => readPassOutput('node', stdout, 1)).toThrow(
      'importer/linux-amd64/bin/ctr: does not match SHA256SUMS — copy the exported images directory to this node again',
    );
  });

  it('names the exit code when the importer said nothing, and reads a summary cut short as none', () => {
    expect(() => readPassOutput('node', '', 137)).toThrow('the importer exited with code 137 and no summary');
    expect(() => readPassOutput('node', '{"airlock":"import-summary","node":"n","resul', null)).toThrow(
      'the importer exited with code null and no summary',
    );
  });

  it('refuses a summary whose results it cannot read', () => {
    const stdout = summaryLine({
      runtime: 'docker',
      endpoint: 'unix:///d.sock',
      results: [{ outcome: 'imported' }],
    });
    expect(() => readPassOutput('node', stdout, 0)).toThrow(
      'the importer printed a summary this keeper cannot read',
    );
  });
});
