import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../lib/exec/run.ts';
import { type RigContainerd, startContainerd } from '../../rig/containerd.ts';
import { type FixtureImage, fixtureImage } from '../archive/fixture-image.ts';
import { parseImageList } from '../runtime/ctr-images.ts';
import { releaseEnv, sealDirectory, uniqueFixture, writeExporterArchive } from './archives.ts';
import { outcomes, resultOf, runImport } from './run-import.ts';

/**
 * The runtime failing under the importer: a private containerd per test (the rig's is shared), restarted in the
 * middle of an import, or with its root on a tmpfs too small for the archive.
 */

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A short directory: containerd's socket path must stay under 108 bytes. */
const shortDir = async (label: string) => {
  const dir = await mkdtemp(`/tmp/ai-${label}-`);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
};

/** An image with one incompressible layer of `megabytes`, so the archive is still streaming when things go wrong. */
const bigFixture = (label: string, megabytes: number): FixtureImage =>
  fixtureImage({
    repository: `docker.io/library/airlock-import-${label}-${randomBytes(4).toString('hex')}`,
    seed: randomBytes(8).toString('hex'),
    pinned: true,
    padding: randomBytes(megabytes * 1024 * 1024),
  });

const imagesIn = async (containerd: RigContainerd) => {
  const { stdout } = await run('ctr', ['--address', containerd.address, '-n', 'k8s.io', 'images', 'ls']);
  return new Map(parseImageList(stdout).map((row) => [row.name, row.digest]));
};

/** Process IDs whose command line contains every one of `parts`. */
const pidsOf = async (...parts: string[]): Promise<number[]> => {
  const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
  return stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => parts.every((part) => line.includes(part)))
    .map((line) => Number(line.split(/\s+/, 1)[0]));
};

/** True while some blob is being written into containerd's content store with at least 1 MiB received. */
const ingestHasBytes = async (ingest: string): Promise<boolean> => {
  const refs = await readdir(ingest).catch(() => [] as string[]);
  for (const ref of refs) {
    const size = await stat(join(ingest, ref, 'data')).then(
      (info) => info.size,
      () => 0,
    );
    if (size > 1024 * 1024) return true;
  }
  return false;
};

describe('containerd restarted in the middle of an import', () => {
  it('retries the archive once containerd is back and ends with the image under every name', async () => {
    const dir = await shortDir('restart');
    let containerd = await startContainerd({ dir: join(dir, 'ctd') });
    cleanups.push(() => containerd.stop());
    const images = join(dir, 'images');
    const fixture = bigFixture('restart', 128);
    await run('mkdir', [images]);
    await writeExporterArchive(images, 'big.tar', fixture);
    await sealDirectory(images);

    const importing = runImport(
      ['--dir', images, '--containerd-address', containerd.address, '--retries', '6'],
      releaseEnv(fixture.image.names),
    );
    // Wait until containerd is writing the big layer (an ingest holds bytes), then kill it: this test's own daemon.
    const ingest = join(containerd.root, 'io.containerd.content.v1.content', 'ingest');
    let daemons: number[] = [];
    for (let attempt = 0; attempt < 3000; attempt++) {
      if (await ingestHasBytes(ingest)) {
        daemons = await pidsOf('containerd --config', join(dir, 'ctd', 'config.toml'));
        break;
      }
      await sleep(5);
    }
    expect(daemons).toHaveLength(1);
    for (const pid of daemons) process.kill(pid, 'SIGKILL');
    containerd = await startContainerd({ dir: join(dir, 'ctd') });

    const { summary, stdout } = await importing;
    expect(outcomes(summary), stdout).toEqual({ 'big.tar': 'imported' });
    expect(stdout).toMatch(
      /^warning: containerd at .* stopped answering during ctr images import: .* — retry 1\/6 in \d+\.\ds$/m,
    );
    const present = await imagesIn(containerd);
    for (const name of fixture.image.names)
      expect(present.get(name), name).toBe(fixture.image.target.descriptor.digest);
  });
});

describe('a full disk under containerd', () => {
  it("fails the archive that does not fit with DISK_FULL naming containerd's root, and imports the one that does", async () => {
    const dir = await shortDir('full');
    const root = join(dir, 'ctd');
    await run('mkdir', [root]);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', root]);
    cleanups.push(async () => {
      await run('umount', ['-l', root]).catch(() => undefined);
    });
    const containerd = await startContainerd({ dir: root });
    cleanups.push(() => containerd.stop());
    const images = join(dir, 'images');
    await run('mkdir', [images]);
    const small = uniqueFixture('fits');
    const big = bigFixture('too-big', 48);
    await writeExporterArchive(images, 'a-small.tar.gz', small);
    await writeExporterArchive(images, 'b-big.tar.gz', big);
    await sealDirectory(images);

    const { exitCode, summary } = await runImport(
      ['--dir', images, '--containerd-address', containerd.address],
      releaseEnv([...small.image.names, ...big.image.names]),
    );
    expect(exitCode).toBe(0);
    expect(outcomes(summary)).toEqual({ 'a-small.tar.gz': 'imported', 'b-big.tar.gz': 'failed' });
    expect(resultOf(summary, 'b-big.tar.gz')).toMatchObject({
      code: 'DISK_FULL',
      reason: expect.stringMatching(
        new RegExp(
          `no space left on device.* — free space under containerd's root ${root}/root on this node`,
        ),
      ),
    });
    const present = await imagesIn(containerd);
    for (const name of small.image.names)
      expect(present.get(name), name).toBe(small.image.target.descriptor.digest);
    for (const name of big.image.names) expect(present.has(name), name).toBe(false);
  });
});
