import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readLockFile, writeLockFile } from '../../lib/export/lock.ts';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-lock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the lockfile', () => {
  it('is written sorted by reference, one entry each, and read back', async () => {
    const file = join(dir, 'images.lock.json');
    await writeLockFile(
      file,
      new Map([
        ['quay.io/acme/b:1', B],
        ['docker.io/acme/a:1', A],
      ]),
    );
    expect(await readFile(file, 'utf8')).toBe(
      `{\n  "lockfileVersion": 1,\n  "images": [\n    {\n      "reference": "docker.io/acme/a:1",\n      "digest": "${A}"\n    },\n    {\n      "reference": "quay.io/acme/b:1",\n      "digest": "${B}"\n    }\n  ]\n}\n`,
    );
    expect([...(await readLockFile(file))]).toEqual([
      ['docker.io/acme/a:1', A],
      ['quay.io/acme/b:1', B],
    ]);
  });

  it('reads a hand-written short reference under its full name', async () => {
    const file = join(dir, 'short.json');
    await writeFile(
      file,
      JSON.stringify({ lockfileVersion: 1, images: [{ reference: 'nginx', digest: A }] }),
    );
    expect([...(await readLockFile(file))]).toEqual([['docker.io/library/nginx:latest', A]]);
  });

  const bad: [label: string, content: string | undefined, message: RegExp][] = [
    ['a missing file', undefined, /^.*missing\.json: cannot read the lockfile: ENOENT/],
    ['not JSON', '{', /bad\.json: cannot read the lockfile: /],
    [
      'another version',
      '{"lockfileVersion": 2, "images": []}',
      /bad\.json: not an airlock lockfile: lockfileVersion: /,
    ],
    [
      'a digest that is not sha256',
      `{"lockfileVersion": 1, "images": [{"reference": "a:1", "digest": "md5:x"}]}`,
      /bad\.json: not an airlock lockfile: images\.0\.digest: expected sha256:<64 hex> — write one with --lock$/,
    ],
    [
      'a reference that does not parse',
      `{"lockfileVersion": 1, "images": [{"reference": "Bad:1", "digest": "${A}"}]}`,
      /bad\.json: "Bad:1": not a valid image reference/,
    ],
  ];
  it.each(bad)('refuses %s in one line naming the file, as bad input', async (_label, content, message) => {
    const file = join(dir, content === undefined ? 'missing.json' : 'bad.json');
    if (content !== undefined) await writeFile(file, content);
    const failure = readLockFile(file);
    await expect(failure).rejects.toMatchObject({ code: 'BAD_INPUT', file });
    await expect(failure).rejects.toThrow(message);
  });
});
