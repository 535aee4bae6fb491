import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../lib/exec/run.ts';
import { sha256File } from '../../lib/files.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-sha256-file-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** coreutils' sha256sum of the same file: the expected value comes from outside our code. */
const sha256sum = async (file: string) => (await run('sha256sum', [file])).stdout.split(/\s+/)[0];

describe('sha256File', () => {
  it.each([
    ['an empty file', 0],
    ['a file smaller than one read', 1000],
    ['a file of exactly two reads', 2 << 20],
    ['a file ending inside its third read', (2 << 20) + 12_345],
  ])('hashes %s as sha256sum does', async (_, size) => {
    const file = join(dir, `bytes-${size}`);
    const bytes = Buffer.alloc(size);
    for (let index = 0; index < size; index += 1) bytes[index] = (index * 7 + (index >> 9)) & 0xff;
    await writeFile(file, bytes);
    expect(await sha256File(file)).toBe(await sha256sum(file));
  });

  it('stops with the abort reason when the signal is aborted', async () => {
    const file = join(dir, 'aborted');
    await writeFile(file, Buffer.alloc(3 << 20, 1));
    const controller = new AbortController();
    controller.abort(new Error('push cancelled'));
    await expect(sha256File(file, controller.signal)).rejects.toThrow('push cancelled');
  });

  it('names the missing file', async () => {
    await expect(sha256File(join(dir, 'absent'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
