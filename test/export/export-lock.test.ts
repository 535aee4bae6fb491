import { existsSync } from 'node:fs';
import { mkdir, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../lib/exec/run.ts';
import { largeLayerImage, ociImage, pushImage } from '../../rig/factory/index.ts';
import { uniqueRepository } from '../registry/support/registries.ts';
import { readImagesJson, rig, runExport, scratch, spawnExport, writeChart } from './support.ts';

/** One output directory, several exports: a lock keeps them apart, and archives no export lists are reported. */

const host = rig.registry.host;
const LOCK = '.airlock-export.lock';
let large: string;
let small: string;
let other: string;

const push = async (label: string, image: Awaited<ReturnType<typeof ociImage>>) => {
  const repository = uniqueRepository(label);
  await pushImage(image, { registry: host, repository, tag: 'v1' });
  return `${host}/${repository}:v1`;
};

beforeAll(async () => {
  large = await push(
    'lock-large',
    await largeLayerImage({ name: 'export-lock-large', bytes: 64 * 1024 * 1024 }),
  );
  small = await push('lock-small', await ociImage({ name: 'export-lock-small' }));
  other = await push('lock-other', await ociImage({ name: 'export-lock-other' }));
});

describe('two exports into one directory', () => {
  it('refuses the second while the first runs, naming its PID; the first completes', async () => {
    const output = join(await scratch('lock-two'), 'images');
    const first = spawnExport([
      '--chart',
      await writeChart([{ name: 'a', image: large }]),
      '--output',
      output,
    ]);
    let holder: string | undefined;
    for (let waited = 0; holder === undefined; waited += 1) {
      if (waited > 1200) throw new Error(`no lock after 60 s:\n${String((await first).stderr)}`);
      holder = await readlink(join(output, LOCK)).catch(() => undefined);
      await sleep(50);
    }
    // Frozen, the first export holds its lock for as long as the second one needs to find it.
    process.kill(Number(holder), 'SIGSTOP');
    let second: Awaited<ReturnType<typeof runExport>>;
    try {
      second = await runExport([
        '--chart',
        await writeChart([{ name: 'b', image: small }]),
        '--output',
        output,
      ]);
    } finally {
      process.kill(Number(holder), 'SIGCONT');
    }
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(
      `error: ${output}: another export (PID ${holder}) is writing here — wait for it to finish, or export into another --output\n`,
    );
    const finished = await first;
    expect(finished.exitCode, String(finished.stderr)).toBe(0);
    expect((await readImagesJson(output)).images.map((entry) => entry.reference)).toEqual([large]);
    await run('sha256sum', ['-c', 'SHA256SUMS'], { cwd: output });
    expect(existsSync(join(output, LOCK))).toBe(false);
  });

  it('takes over the lock of a process that is gone', async () => {
    const output = join(await scratch('lock-stale'), 'images');
    await mkdir(output, { recursive: true });
    const gone = spawnExport(['--help']);
    const pid = gone.pid!;
    await gone;
    await symlink(String(pid), join(output, LOCK));
    const result = await runExport([
      '--chart',
      await writeChart([{ name: 'a', image: small }]),
      '--output',
      output,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(join(output, LOCK))).toBe(false);
  });
});

describe('archives images.json no longer lists', () => {
  it('are reported, kept without --prune and removed with it', async () => {
    const output = join(await scratch('prune'), 'images');
    const first = await runExport([
      '--chart',
      await writeChart([{ name: 'a', image: small }]),
      '--output',
      output,
    ]);
    expect(first.code, first.stderr).toBe(0);
    const [old] = (await readImagesJson(output)).images.map((entry) => entry.file);
    await writeFile(join(output, 'hand-copied.tar'), 'not an export');

    const chart = await writeChart([{ name: 'b', image: other }]);
    const kept = await runExport(['--chart', chart, '--output', output]);
    expect(kept.code, kept.stderr).toBe(0);
    for (const name of [old, 'hand-copied.tar']) {
      expect(kept.stderr).toContain(
        `warning: ${name}: not listed in images.json (left by an earlier export); the importer refuses it — --prune removes it\n`,
      );
    }
    expect(await readdir(output)).toContain(old);

    const pruned = await runExport(['--chart', chart, '--output', output, '--prune']);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stderr).toContain(`removed ${old}: not listed in images.json (--prune)\n`);
    expect((await readdir(output)).sort()).toEqual(
      ['SHA256SUMS', 'images.json', (await readImagesJson(output)).images[0]!.file].sort(),
    );
  });
});
