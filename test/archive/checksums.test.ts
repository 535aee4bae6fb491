import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatChecksums, readChecksums } from '../../lib/archive/index.ts';
import { run } from '../../lib/exec/run.ts';
import { sha256Hex } from './raw-tar.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-sums-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('SHA256SUMS', () => {
  it('writes sorted lines that sha256sum -c accepts, and reads them back', async () => {
    await writeFile(join(dir, 'redis_7.tar'), 'redis');
    await writeFile(join(dir, 'nginx_1.25.tar.gz'), 'nginx');
    const text = formatChecksums([
      { file: 'redis_7.tar', sha256: sha256Hex('redis') },
      { file: 'nginx_1.25.tar.gz', sha256: sha256Hex('nginx') },
    ]);
    expect(text).toBe(`${sha256Hex('nginx')}  nginx_1.25.tar.gz\n${sha256Hex('redis')}  redis_7.tar\n`);
    await writeFile(join(dir, 'SHA256SUMS'), text);
    await run('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dir });
    expect(await readChecksums(dir)).toEqual(
      new Map([
        ['nginx_1.25.tar.gz', sha256Hex('nginx')],
        ['redis_7.tar', sha256Hex('redis')],
      ]),
    );
  });

  it('reads binary-mode lines and upper-case hex as written by other tools', async () => {
    await writeFile(join(dir, 'SHA256SUMS'), `${sha256Hex('a').toUpperCase()} *a.tar\r\n\n`);
    expect(await readChecksums(dir)).toEqual(new Map([['a.tar', sha256Hex('a')]]));
  });

  it('returns undefined when there is no SHA256SUMS', async () => {
    expect(await readChecksums(dir)).toBeUndefined();
  });

  it('fails with BAD_INPUT naming the line of a malformed entry', async () => {
    await writeFile(join(dir, 'SHA256SUMS'), `${sha256Hex('a')}  a.tar\nnot-a-checksum b.tar\n`);
    await expect(readChecksums(dir)).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining('SHA256SUMS:2'),
    });
  });
});
