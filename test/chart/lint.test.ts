import { describe, expect, it } from 'vitest';
import { run } from '../../lib/exec/run.ts';
import { chartDir, helmBinaries } from './chart-render.ts';

describe.each(helmBinaries())('helm lint with $name', ({ path: helm }) => {
  it.each([
    ['default values', []],
    [
      'the import hook enabled',
      ['--set', 'imagePull.enabled=true', '--set', 'imagePull.importer.hostImage=registry.k8s.io/pause:3.10'],
    ],
    [
      'the import hook on named nodes through Docker',
      [
        '--set',
        'imagePull.enabled=true',
        '--set',
        'imagePull.nodes={a,b}',
        '--set',
        'imagePull.runtime=docker',
        '--set',
        'imagePull.importer.mode=image',
      ],
    ],
  ])('passes --strict with %s', async (_case, args) => {
    const { stdout } = await run(helm, ['lint', '--strict', chartDir, ...args]);
    expect(stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
  });
});
