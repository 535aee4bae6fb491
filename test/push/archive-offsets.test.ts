import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, mkdtemp, open, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../lib/exec/run.ts';
import { indexArchive } from '../../lib/push/archive.ts';

/**
 * An uncompressed archive is uploaded in place from the offsets the indexing pass recorded (lib/push/archive.ts,
 * `offsetIn`): each must be where GNU tar put the entry's bytes, for links, entries sharing bytes, long names and
 * bodies that cross the 1 MiB read chunks.
 */

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

let dir: string;
const layers = {
  big: randomBytes((1 << 20) + 70_001),
  small: randomBytes(3_333),
};
const config = Buffer.from(
  JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [sha256(layers.big), sha256(layers.small), sha256(layers.big)] },
  }),
);
const configName = `${sha256(config).slice(7)}.json`;
const longDir = `${'d'.repeat(120)}`;

/** A `docker save` (before 25) layout: the repeated layer is a symlink, as Docker writes it; a copy is hard-linked. */
const writeTree = async (root: string) => {
  await mkdir(join(root, 'one'), { recursive: true });
  await mkdir(join(root, 'two'));
  await mkdir(join(root, 'three'));
  await mkdir(join(root, longDir));
  await writeFile(join(root, 'one', 'layer.tar'), layers.big);
  await writeFile(join(root, 'two', 'layer.tar'), layers.small);
  await symlink('../one/layer.tar', join(root, 'three', 'layer.tar'));
  // The same bytes again as a regular file under a long (PAX) name, and a hard link to it.
  await writeFile(join(root, longDir, 'copy.tar'), layers.small);
  await link(join(root, longDir, 'copy.tar'), join(root, 'hard.tar'));
  await writeFile(join(root, configName), config);
  const manifest = [
    {
      Config: configName,
      RepoTags: ['registry.test/offsets:v1'],
      Layers: ['one/layer.tar', 'two/layer.tar', 'three/layer.tar'],
    },
  ];
  await writeFile(join(root, 'manifest.json'), JSON.stringify(manifest));
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-offsets-'));
  await writeTree(join(dir, 'tree'));
  const entries = ['manifest.json', configName, 'one', 'two', 'three', longDir, 'hard.tar'];
  await run('tar', ['--format=pax', '-cf', join(dir, 'save.tar'), '-C', join(dir, 'tree'), ...entries]);
  await run('bash', ['-c', 'gzip -c save.tar > save.tar.gz'], { cwd: dir });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const bytesAt = async (file: string, offset: number, size: number): Promise<Buffer> => {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(size);
    await handle.read(buffer, 0, size, offset);
    return buffer;
  } finally {
    await handle.close();
  }
};

describe('indexArchive offsets', () => {
  it('places every entry of an uncompressed archive where its bytes are, links included', async () => {
    const file = join(dir, 'save.tar');
    const indexed = await indexArchive(file);
    const expected = new Map([
      ['one/layer.tar', layers.big],
      ['two/layer.tar', layers.small],
      ['three/layer.tar', layers.big],
      [`${longDir}/copy.tar`, layers.small],
      ['hard.tar', layers.small],
      [configName, config],
    ]);
    for (const [name, bytes] of expected) {
      const entry = indexed.files.get(name);
      expect(entry, name).toBeDefined();
      expect(entry!.digest, name).toBe(sha256(bytes));
      expect(entry!.offset, name).toBeTypeOf('number');
      expect(sha256(await bytesAt(file, entry!.offset!, entry!.size)), name).toBe(sha256(bytes));
    }
  });

  it('records no offset for a gzip archive, whose blobs are extracted instead', async () => {
    const indexed = await indexArchive(join(dir, 'save.tar.gz'));
    const entry = indexed.files.get('one/layer.tar');
    expect(entry?.digest).toBe(sha256(layers.big));
    expect([...indexed.files.values()].filter((value) => value.offset !== undefined)).toEqual([]);
  });
});
