import { randomBytes } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildImporterBundle } from '../../importer/build.ts';
import { run } from '../../lib/exec/run.ts';
import { importArchives } from '../../lib/import/import.ts';
import { silentLogger } from '../../lib/report/log.ts';
import { createContainerdRuntime } from '../../lib/runtime/index.ts';
import { type RigContainerd, startContainerd } from '../../rig/containerd.ts';
import { imageStatus } from '../../rig/cri.ts';
import { type FixtureImage, fixtureImage } from '../archive/fixture-image.ts';
import { releaseEnv, sealDirectory, uniqueFixture, writeExporterArchive } from './archives.ts';
import { ambiguousArchives, paxBomb, writeAll, writeClaimingArchive } from './hostile-corpus.ts';
import {
  containerdImages,
  type ImportRun,
  outcomes,
  removeContainerdImages,
  runImport,
} from './run-import.ts';

/**
 * The importer as an attacker who can write to the images directory sees it: every hostile archive is refused
 * with one line, the good archive beside them is imported, and nothing already on the node changes.
 */

const rig = inject('rig');
// A containerd of this file's own: the hijack targets (the pause and importer names) are names other test files
// import into the shared rig containerd, and `ctr images ls` before and after must see this file's work alone.
let node: RigContainerd;
let nodeDir: string;
const PAUSE = 'registry.k8s.io/pause:3.9';
const IMPORTER = 'docker.io/airlock/importer:0.1.0';
let dir: string;
let good: FixtureImage;
let unlisted: FixtureImage;
let stale: FixtureImage;
let result: ImportRun;
let before: Map<string, string>;
const preloaded: Record<string, FixtureImage> = {};

const ctrImport = async (path: string) =>
  run('ctr', ['--address', node.address, '-n', 'k8s.io', 'images', 'import', path]);

/** name -> digest of every image in this file's containerd's k8s.io namespace. */
const snapshot = async (): Promise<Map<string, string>> =>
  new Map([...(await containerdImages({ containerd: node }))].map(([name, row]) => [name, row.digest]));

/** The node's own images: what kubelet and the hook run, loaded before any import with content of their own. */
const preload = async (scratch: string) => {
  for (const name of [PAUSE, IMPORTER]) {
    const fixture = uniqueFixture('node', { pinned: false });
    preloaded[name] = { ...fixture, image: { ...fixture.image, names: [name], dockerRepoTags: [name] } };
    const path = await writeExporterArchive(
      scratch,
      `${preloaded[name].image.names[0]?.replace(/\W/g, '_')}.tar`,
      preloaded[name],
    );
    await ctrImport(path);
  }
};

const REFUSALS: Record<string, RegExp> = {
  'hijack-pause.tar.gz':
    /refused: it names registry\.k8s\.io\/pause:3\.9, which is not an image of this release \(AIRLOCK_IMAGES\)/,
  'hijack-importer.tar':
    /refused: it names docker\.io\/airlock\/importer:0\.1\.0, which is not an image of this release/,
  'two-index.tar': /the tar entry "index\.json" appears twice/,
  'two-manifest-json.tar': /the tar entry "manifest\.json" appears twice/,
  'two-oci-layout.tar': /the tar entry "oci-layout" appears twice/,
  'pax-path-and-prefix.tar': /has both a long-name record and a ustar prefix/,
  'global-pax.tar': /a global PAX header at byte 0/,
  'stacked-pax.tar': /two extended-header records in a row/,
  'hardlink.tar': /tar entry "blobs\/copy" is a hardlink to "oci-layout"; image archives hold no links/,
  'symlink-chain.tar': /tar entry "x\/b" is a symlink to "\.\."; image archives hold no links/,
  'pax-bomb.tar.gz': /a ExtendedHeader tar record of \d+ bytes \(over 65536\) at byte 0/,
  'stale.tar':
    /refused: it names docker\.io\/library\/airlock-import-stale-\w+:1\.0, which is not an image of this release/,
  'unlisted.tar': /refused: not listed in SHA256SUMS \(left from an earlier export, or copied in by hand\)/,
};

beforeAll(async () => {
  nodeDir = await mkdtemp('/tmp/ah-');
  node = await startContainerd({ dir: nodeDir });
});

afterAll(async () => {
  await node.stop();
  await rm(nodeDir, { recursive: true, force: true });
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-hostile-'));
  const scratch = await mkdtemp(join(tmpdir(), 'airlock-hostile-node-'));
  await preload(scratch);
  await rm(scratch, { recursive: true, force: true });
  good = uniqueFixture('good');
  await writeExporterArchive(dir, 'good.tar.gz', good);
  await writeClaimingArchive(dir, 'hijack-pause.tar.gz', [PAUSE]);
  await writeClaimingArchive(dir, 'hijack-importer.tar', [IMPORTER]);
  await writeAll(dir, { ...ambiguousArchives(), 'pax-bomb.tar.gz': paxBomb() });
  stale = uniqueFixture('stale', { pinned: false });
  await writeExporterArchive(dir, 'stale.tar', stale);
  await sealDirectory(dir);
  // Copied in after SHA256SUMS was written, holding an image the release does use.
  unlisted = uniqueFixture('unlisted');
  await writeExporterArchive(dir, 'unlisted.tar', unlisted);
  before = await snapshot();
  result = await runImport(
    ['--dir', dir, '--containerd-address', node.address],
    // The ambiguous archives name docker.io/library/minimal:1, which the release allows: their tar is what is refused.
    releaseEnv([...good.image.names, ...unlisted.image.names, 'docker.io/library/minimal:1']),
  );
});

afterAll(async () => {
  await removeContainerdImages(rig, [
    PAUSE,
    IMPORTER,
    'docker.io/library/minimal:1',
    ...good.image.names,
    ...unlisted.image.names,
    ...stale.image.names,
  ]);
  await rm(dir, { recursive: true, force: true });
});

describe('the hostile corpus on containerd', () => {
  it('imports the good archive and refuses every hostile one', () => {
    expect(outcomes(result.summary)).toEqual({
      'good.tar.gz': 'imported',
      ...Object.fromEntries(Object.keys(REFUSALS).map((file) => [file, 'failed'])),
    });
  });

  it.each(Object.entries(REFUSALS))(
    'refuses %s with one line naming the archive and the reason',
    (file, reason) => {
      const lines = result.lines.filter((line) => line.startsWith('failed') && line.includes(file));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(`^failed +${file.replace(/\./g, '\\.')} .*— ${dir}/${file.replace(/\./g, '\\.')}: `),
      );
      expect(lines[0]).toMatch(reason);
    },
  );

  it('changes nothing already on the node: ctr images ls is the same but for the good image', async () => {
    const after = await snapshot();
    for (const name of good.image.names) after.delete(name);
    // The CRI names every image by its config digest too: the good image's alias is the only other newcomer.
    for (const [name] of after) if (!before.has(name) && /^sha256:/.test(name)) after.delete(name);
    expect(after).toEqual(before);
  });

  it('leaves the kube-system pause image and the importer image on their own content (CRI ImageStatus)', async () => {
    for (const name of [PAUSE, IMPORTER]) {
      const status = await imageStatus(node.address, name);
      expect(status.found).toBe(true);
      expect(status.id).toBe(preloaded[name]?.image.manifests[0]?.config.descriptor.digest);
    }
    for (const name of unlisted.image.names)
      expect((await imageStatus(node.address, name)).found).toBe(false);
    for (const name of stale.image.names) expect((await imageStatus(node.address, name)).found).toBe(false);
  });

  it('creates the good image under the names the release asked for', async () => {
    for (const name of good.image.names) expect((await imageStatus(node.address, name)).found).toBe(true);
  });
});

describe('a file swapped between verification and import', () => {
  let swapDir: string;
  let original: FixtureImage;

  beforeAll(async () => {
    swapDir = await mkdtemp(join(tmpdir(), 'airlock-swap-'));
    // Several MiB, so the swap lands while the file is still being read.
    original = fixtureImage({
      repository: `docker.io/library/airlock-swap-${randomBytes(4).toString('hex')}`,
      seed: randomBytes(8).toString('hex'),
      padding: randomBytes(6 * 1024 * 1024),
    });
    await writeExporterArchive(swapDir, 'app.tar', original);
    await sealDirectory(swapDir);
    await writeClaimingArchive(swapDir, 'hijack.tar.gz', [PAUSE]);
    await rename(join(swapDir, 'hijack.tar.gz'), join(swapDir, '.hijack'));
  });

  afterAll(async () => {
    await removeContainerdImages(rig, original.image.names);
    await rm(swapDir, { recursive: true, force: true });
  });

  it('imports what was opened and verified, never the file swapped in mid-stream', async () => {
    const pauseBefore = await imageStatus(node.address, PAUSE);
    let swapped = 0;
    const report = await importArchives({
      dir: swapDir,
      runtime: createContainerdRuntime({ address: node.address }),
      images: { text: original.image.names.join('\n'), source: 'AIRLOCK_IMAGES' },
      concurrency: 1,
      retries: 0,
      timeoutMs: 60_000,
      logger: silentLogger,
      afterFirstChunk: async (file) => {
        await rename(join(swapDir, '.hijack'), file);
        swapped += 1;
      },
    });
    expect(swapped).toBe(1);
    expect(report.results).toMatchObject([{ image: 'app.tar', outcome: 'imported' }]);
    for (const name of original.image.names) {
      expect((await imageStatus(node.address, name)).id).toBe(
        original.image.manifests[0]?.config.descriptor.digest,
      );
    }
    expect(await imageStatus(node.address, PAUSE)).toEqual(pauseBefore);
    // The next run reads the swapped-in file from its start and refuses it for what it names.
    const again = await runImport(
      ['--dir', swapDir, '--containerd-address', node.address],
      releaseEnv(original.image.names),
    );
    expect(again.summary.results).toMatchObject([
      { archive: 'app.tar', outcome: 'failed', code: 'NOT_ALLOWED' },
    ]);
    expect(await imageStatus(node.address, PAUSE)).toEqual(pauseBefore);
  });
});

describe('memory on the PAX bomb', () => {
  // The bundled importer, as a node runs it: measuring through tsx would add the transpiler's own memory, which
  // depends on whether its cache is cold (a fresh clone) or warm.
  // VmHWM, the peak of this process's own memory: getrusage's maxRSS survives exec, so a child of the vitest
  // worker would report the worker's peak instead of its own.
  const REPORT_RSS = `data:text/javascript,import { readFileSync } from 'node:fs'; process.on('exit', () => process.stderr.write('peak ' + /VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1] + '\\n'))`;
  let script: string;
  let scratch: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'airlock-rss-'));
    script = await buildImporterBundle(join(scratch, 'importer.mjs'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  /** The importer as a process of its own, reporting its peak RSS in KiB. */
  const peakRss = async (imagesDir: string, names: readonly string[]): Promise<number> => {
    const { stderr } = await run(
      process.execPath,
      ['--import', REPORT_RSS, script, '--dir', imagesDir, '--containerd-address', node.address],
      { env: { ...releaseEnv(names), NODE_NAME: 'node-a' } },
    );
    return Number(/peak (\d+)/.exec(stderr)?.[1]);
  };
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

  it('keeps the importer within 1.2× of its RSS on a normal archive', async () => {
    const bombDir = await mkdtemp(join(tmpdir(), 'airlock-bomb-'));
    const normalDir = await mkdtemp(join(tmpdir(), 'airlock-normal-'));
    const normal = fixtureImage({
      repository: `docker.io/library/airlock-rss-${randomBytes(4).toString('hex')}`,
      seed: randomBytes(8).toString('hex'),
      padding: randomBytes(16 * 1024 * 1024),
    });
    try {
      await writeFile(join(bombDir, 'pax-bomb.tar.gz'), paxBomb());
      await sealDirectory(bombDir);
      await writeExporterArchive(normalDir, 'normal.tar.gz', normal);
      await sealDirectory(normalDir);
      // Alternating runs, compared by their medians: a peak RSS moves with the garbage collector's timing and the
      // machine's load, and one slow run must not decide.
      const bombs: number[] = [];
      const baselines: number[] = [];
      for (let round = 0; round < 3; round += 1) {
        bombs.push(await peakRss(bombDir, ['docker.io/library/minimal:1']));
        baselines.push(await peakRss(normalDir, normal.image.names));
      }
      const [bomb, baseline] = [median(bombs), median(baselines)];
      console.info(
        `importer peak RSS: PAX bomb ${bombs.join('/')} KiB, normal 16 MiB archive ${baselines.join('/')} KiB (medians ${(bomb / baseline).toFixed(2)}×)`,
      );
      expect(bomb).toBeGreaterThan(0);
      expect(bomb / baseline).toBeLessThanOrEqual(1.2);
    } finally {
      await removeContainerdImages(rig, normal.image.names);
      await rm(bombDir, { recursive: true, force: true });
      await rm(normalDir, { recursive: true, force: true });
    }
  });
});

describe('the hostile corpus on Docker', () => {
  const docker = (...args: string[]) => run('docker', ['-H', rig.docker.host, ...args]);
  const imageId = async (name: string) =>
    (await docker('image', 'inspect', '--format', '{{.Id}}', name).catch(() => ({ stdout: 'absent' })))
      .stdout;
  let dockerDir: string;
  let app: FixtureImage;
  let node: FixtureImage;

  beforeAll(async () => {
    dockerDir = await mkdtemp(join(tmpdir(), 'airlock-hostile-docker-'));
    const scratch = await mkdtemp(join(tmpdir(), 'airlock-hostile-docker-node-'));
    const fixture = uniqueFixture('docker-node', { pinned: false });
    node = { ...fixture, image: { ...fixture.image, names: [PAUSE], dockerRepoTags: [PAUSE] } };
    await docker('load', '--input', await writeExporterArchive(scratch, 'pause.tar', node));
    await rm(scratch, { recursive: true, force: true });
    app = uniqueFixture('docker-good', { pinned: false });
    await writeExporterArchive(dockerDir, 'good.tar', app);
    await writeClaimingArchive(dockerDir, 'hijack-pause.tar.gz', [PAUSE]);
    const corpus = ambiguousArchives();
    await writeAll(dockerDir, {
      'two-manifest-json.tar': corpus['two-manifest-json.tar'] as Buffer,
      'symlink-chain.tar': corpus['symlink-chain.tar'] as Buffer,
      'pax-bomb.tar.gz': paxBomb(),
    });
    await sealDirectory(dockerDir);
  });

  afterAll(async () => {
    await docker('image', 'rm', '--force', PAUSE, ...app.image.dockerRepoTags).catch(() => undefined);
    await rm(dockerDir, { recursive: true, force: true });
  });

  it('loads the good archive, refuses the others in one line each, and leaves pause on its own content', async () => {
    const before = await imageId(PAUSE);
    const { summary, lines } = await runImport(
      ['--dir', dockerDir, '--runtime', 'docker', '--docker-host', rig.docker.host],
      releaseEnv([...app.image.names, 'docker.io/library/minimal:1']),
    );
    expect(outcomes(summary)).toEqual({
      'good.tar': 'imported',
      'hijack-pause.tar.gz': 'failed',
      'two-manifest-json.tar': 'failed',
      'symlink-chain.tar': 'failed',
      'pax-bomb.tar.gz': 'failed',
    });
    for (const file of [
      'hijack-pause.tar.gz',
      'two-manifest-json.tar',
      'symlink-chain.tar',
      'pax-bomb.tar.gz',
    ])
      expect(lines.filter((line) => line.startsWith('failed') && line.includes(file))).toHaveLength(1);
    expect(before).toBe(node.image.manifests[0]?.config.descriptor.digest);
    expect(await imageId(PAUSE)).toBe(before);
    expect(await imageId('minimal:1')).toBe('absent');
    expect(await imageId(app.image.dockerRepoTags[0] ?? '')).toBe(
      app.image.manifests[0]?.config.descriptor.digest,
    );
  });
});
