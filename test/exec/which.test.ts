import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findProgram } from '../../lib/exec/which.ts';

const savedPath = process.env.PATH;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-which-'));
  await writeFile(join(dir, 'tool'), '#!/bin/sh\n');
  await chmod(join(dir, 'tool'), 0o755);
  await writeFile(join(dir, 'plain'), 'not a program');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  process.env.PATH = savedPath;
});

describe('findProgram', () => {
  it('finds a name on PATH, in PATH order, as an absolute path', async () => {
    process.env.PATH = `/nonexistent:${dir}:/usr/bin`;
    expect(await findProgram('tool')).toBe(join(dir, 'tool'));
  });

  it('takes a path as it is, when it is an executable file', async () => {
    expect(await findProgram(join(dir, 'tool'))).toBe(join(dir, 'tool'));
    expect(await findProgram(join(dir, 'plain'))).toBeUndefined();
    expect(await findProgram(join(dir, 'absent'))).toBeUndefined();
    expect(await findProgram(dir)).toBeUndefined();
  });

  it('skips a file that is not executable, and answers undefined for a name found nowhere', async () => {
    process.env.PATH = dir;
    expect(await findProgram('plain')).toBeUndefined();
    expect(await findProgram('airlock-no-such-program')).toBeUndefined();
  });

  it('searches /usr/bin and /bin when there is no PATH at all, as spawn does', async () => {
    delete process.env.PATH;
    expect(['/usr/bin/sh', '/bin/sh']).toContain(await findProgram('sh'));
  });
});
