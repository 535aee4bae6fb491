// Watch mode (the keeper's main container with imagePull.keeper.watch) on the rig's containerd: archives copied
// into the directory later are imported on the next pass, a half-copied one waits, a corrupt one is reported
// while the rest goes in, and a pass over an unchanged directory starts no importer.
import { createHash } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import {
  createWatchState,
  runWatchCommand,
  runWatchPass,
  splitWatchArguments,
  type WatchContext,
} from '../../lib/import/watch.ts';
import { childImportPass, type ImporterCommand } from '../../lib/import/watch-child.ts';
import { createLogger } from '../../lib/report/log.ts';
import { imageStatus } from '../../rig/cri.ts';
import type { FixtureImage } from '../archive/fixture-image.ts';
import { releaseEnv, sealDirectory, uniqueFixture, writeExporterArchive } from '../import/archives.ts';
import { removeContainerdImages } from '../import/run-import.ts';

const rig = inject('rig');

/** The one-shot importer each pass starts: this checkout's entry point through tsx, as `npm run importer` runs it. */
const IMPORTER: ImporterCommand = {
  file: process.execPath,
  args: [
    '--import',
    pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
    fileURLToPath(new URL('../../importer/src/main.ts', import.meta.url)),
  ],
};

const KeeperSummary = z.object({
  airlock: z.literal('keeper-summary'),
  node: z.string(),
  pass: z.number(),
  runtime: z.enum(['containerd', 'docker']),
  archives: z.number(),
  synced: z.number(),
  failed: z.number(),
  pending: z.number(),
  error: z.string().optional(),
  results: z.array(
    z.object({
      state: z.enum(['synced', 'failed', 'pending']),
      archive: z.string(),
      outcome: z.enum(['imported', 'skipped', 'failed']),
      reason: z.string().optional(),
      code: z.string().optional(),
    }),
  ),
});

const collector = () => {
  const chunks: string[] = [];
  const stream = new Writable({
    write: (chunk, _encoding, callback) => {
      chunks.push(String(chunk));
      callback();
    },
  });
  return { stream, text: () => chunks.join(''), reset: () => chunks.splice(0) };
};

const summaries = (text: string) =>
  text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => KeeperSummary.parse(JSON.parse(line)));

const fixtures: FixtureImage[] = [];
let dir: string;
let scratch: string;

const fixture = () => {
  const made = uniqueFixture('keeper');
  fixtures.push(made);
  return made;
};
const releaseNames = () => fixtures.flatMap((made) => made.image.names);
const found = async (made: FixtureImage) => {
  const statuses = await Promise.all(
    made.image.names.map((name) => imageStatus(rig.containerd.address, name)),
  );
  return statuses.every((status) => status.found);
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-keeper-watch-'));
  scratch = await mkdtemp(join(tmpdir(), 'airlock-keeper-scratch-'));
});

afterAll(async () => {
  await removeContainerdImages(rig, releaseNames());
  await rm(dir, { recursive: true, force: true });
  await rm(scratch, { recursive: true, force: true });
});

describe('watch flags', () => {
  it('takes --watch and --interval out of the arguments, flags over AIRLOCK_WATCH/AIRLOCK_INTERVAL', () => {
    expect(splitWatchArguments(['--dir', '/x', '--watch', '--interval', '5'], {})).toEqual({
      watch: true,
      intervalSeconds: 5,
      rest: ['--dir', '/x'],
    });
    expect(splitWatchArguments([], { AIRLOCK_WATCH: 'true', AIRLOCK_INTERVAL: '12' })).toEqual({
      watch: true,
      intervalSeconds: 12,
      rest: [],
    });
    expect(splitWatchArguments(['--interval=7'], { AIRLOCK_INTERVAL: '12' })).toMatchObject({
      watch: false,
      intervalSeconds: 7,
    });
    expect(splitWatchArguments([], {})).toMatchObject({ watch: false, intervalSeconds: 30 });
  });

  it('refuses a bad interval or switch in one line naming where it came from', () => {
    expect(() => splitWatchArguments([], { AIRLOCK_INTERVAL: '0' })).toThrow(
      'AIRLOCK_INTERVAL: expected a whole number of seconds of at least 1, got "0"',
    );
    expect(() => splitWatchArguments(['--watch=maybe'], {})).toThrow(
      '--watch: expected true or false, got "maybe"',
    );
  });
});

describe('watch passes', () => {
  const out = collector();
  let context: WatchContext;
  let passes = 0;
  const state = createWatchState();
  let first: FixtureImage;

  beforeAll(async () => {
    first = fixture();
    await writeExporterArchive(dir, 'a-first.tar', first);
    await sealDirectory(dir);
    const logger = createLogger({ stream: out.stream });
    const args = ['--dir', dir, '--retries', '0', '--containerd-address', rig.containerd.address];
    context = {
      dir,
      // The release list is read when each pass runs, so the fixtures made later are allowed too.
      pass: (signal) => {
        passes += 1;
        return childImportPass(
          IMPORTER,
          args,
          { ...process.env, ...releaseEnv(releaseNames()) },
          logger,
        )(signal);
      },
      logger,
      stdout: out.stream,
      node: 'node-a',
      // Long, so an archive written during the test counts as "still being copied" whatever the load.
      intervalSeconds: 600,
    };
  });

  it('imports what is there on the first pass and prints its status and one summary line', async () => {
    expect(await runWatchPass(context, state)).toBe(true);
    expect(await found(first)).toBe(true);
    const lines = out.text().split('\n');
    expect(lines).toContain('synced   a-first.tar  imported');
    expect(out.text()).toMatch(/^pass 1: 1 synced, 0 failed, 0 pending in [\d.]+s$/m);
    const [summary] = summaries(out.text());
    expect(summary).toMatchObject({ node: 'node-a', pass: 1, synced: 1, failed: 0, pending: 0 });
    expect(summary?.results).toEqual([
      expect.objectContaining({ state: 'synced', archive: 'a-first.tar', outcome: 'imported' }),
    ]);
  });

  it('starts no importer and prints nothing when the directory did not change', async () => {
    out.reset();
    const before = passes;
    expect(await runWatchPass(context, state)).toBe(false);
    expect(passes).toBe(before);
    expect(out.text()).toBe('');
  });

  it('retries a half-copied archive on the next pass with one line, then imports it once whole', async () => {
    out.reset();
    const late = fixture();
    const whole = await writeExporterArchive(scratch, 'b-late.tar', late);
    const bytes = await readFile(whole);
    await writeFile(join(dir, 'b-late.tar'), bytes.subarray(0, Math.floor(bytes.length / 2)));
    // SHA256SUMS already lists the whole file, as when it was copied first.
    await sealDirectory(dir, { files: ['a-first.tar'] });
    const lateSum = createHash('sha256').update(bytes).digest('hex');
    await appendFile(join(dir, 'SHA256SUMS'), `${lateSum}  b-late.tar\n`);

    expect(await runWatchPass(context, state)).toBe(true);
    const pendingLines = out
      .text()
      .split('\n')
      .filter((line) => line.startsWith('pending'));
    expect(pendingLines).toHaveLength(1);
    expect(pendingLines[0]).toMatch(
      /^pending {2}b-late\.tar {2}— .+; still being copied\? retrying in 600s$/,
    );
    expect(out.text()).not.toContain('a-first.tar  ');
    expect(summaries(out.text())[0]).toMatchObject({ pass: 2, synced: 1, pending: 1, failed: 0 });
    expect(await found(late)).toBe(false);

    out.reset();
    await writeFile(join(dir, 'b-late.tar'), bytes);
    expect(await runWatchPass(context, state)).toBe(true);
    expect(out.text().split('\n')).toContain('synced   b-late.tar  imported');
    expect(await found(late)).toBe(true);
  });

  it('reports a corrupt archive that sits still as failed, imports the rest, and leaves it until it changes', async () => {
    out.reset();
    const broken = fixture();
    const good = fixture();
    const brokenPath = await writeExporterArchive(dir, 'c-broken.tar', broken);
    await writeExporterArchive(dir, 'd-good.tar', good);
    await sealDirectory(dir);
    // Same length, one byte less at the end of the last blob: only the checksum can tell.
    const size = (await readFile(brokenPath)).length;
    await truncate(brokenPath, size - 2048);
    await writeFile(brokenPath, Buffer.alloc(2048), { flag: 'a' });
    const hourAgo = new Date(Date.now() - 3_600_000);
    await utimes(brokenPath, hourAgo, hourAgo);

    expect(await runWatchPass(context, state)).toBe(true);
    const lines = out.text().split('\n');
    expect(lines).toContain('synced   d-good.tar  imported');
    expect(out.text()).toMatch(/^failed {3}c-broken\.tar {2}— .+$/m);
    expect(await found(good)).toBe(true);
    expect(await found(broken)).toBe(false);
    expect(summaries(out.text())[0]).toMatchObject({ synced: 3, failed: 1, pending: 0 });

    out.reset();
    expect(await runWatchPass(context, state)).toBe(false);
    expect(out.text()).toBe('');
  });
});

describe('the watch command', () => {
  it('imports an archive copied in while it runs, without a restart, and stops on the signal', async () => {
    const own = await mkdtemp(join(tmpdir(), 'airlock-keeper-command-'));
    const out = collector();
    const err = collector();
    const controller = new AbortController();
    const early = fixture();
    const later = fixture();
    try {
      await writeExporterArchive(own, 'early.tar', early);
      await sealDirectory(own);
      const running = runWatchCommand(
        ['--dir', own, '--containerd-address', rig.containerd.address],
        {
          stdout: out.stream,
          stderr: err.stream,
          env: { NODE_NAME: 'node-w', ...releaseEnv(releaseNames()) },
          signal: controller.signal,
        },
        1,
        IMPORTER,
      );
      const waitFor = async (pattern: RegExp) => {
        for (let waited = 0; !pattern.test(out.text()); waited += 100) {
          if (waited > 60_000) throw new Error(`no ${pattern} in:\n${out.text()}`);
          await sleep(100);
        }
      };
      await waitFor(/^synced {3}early\.tar {2}imported$/m);
      expect(out.text().split('\n')[0]).toMatch(
        new RegExp(`^airlock keeper \\S+ on node node-w: watching ${own} every 1s$`),
      );
      await writeExporterArchive(own, 'later.tar', later);
      await sealDirectory(own);
      await waitFor(/^synced {3}later\.tar {2}imported$/m);
      expect(await found(later)).toBe(true);
      controller.abort();
      expect(await running).toBe(0);
      expect(err.text()).toBe('');
      expect(out.text()).toMatch(/^keeper on node node-w stopping after \d+ pass\(es\)$/m);
    } finally {
      controller.abort();
      await rm(own, { recursive: true, force: true });
    }
  });
});
