// The push against `skopeo copy oci-archive: docker://` for the same archive, into the rig's registry. `npm run
// bench` runs it on its large image (the row and the 1.1x budget); `npx tsx bench/push.ts` runs it alone, with
// BENCH_PUSH_MB sizing the large layer (default 300) and BENCH_REPS the repetitions (default 3). The push runs as a
// user runs it, `./scripts/push-images.ts` through its shebang; its `--help` row is the start-up inside every push.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../lib/exec/run.ts';
import { largeLayerImage, pushImage } from '../rig/factory/index.ts';
import { startRig } from '../rig/rig.ts';
import { REPO_ROOT } from './export.ts';
import { type Cell, measureCommand, repeat } from './measure.ts';

const PUSH_SCRIPT = join(REPO_ROOT, 'scripts/push-images.ts');
const push = (args: string[]) => measureCommand(PUSH_SCRIPT, args, { cwd: REPO_ROOT });

export interface PushFigures {
  /** `skopeo copy oci-archive: docker://`, with an empty blob cache each time. */
  skopeo: Cell;
  /** `./scripts/push-images.ts` of the same archive into a fresh repository. */
  airlock: Cell;
  /** The same push again into a repository that has everything. */
  again: Cell;
  /** `./scripts/push-images.ts --help`: the start-up inside every push. */
  startup: Cell;
}

/** skopeo's oci-archive of `source` (in `host`'s registry), with its SHA256SUMS, in `dir`/images. */
const writeOciArchive = async (host: string, source: string, dir: string): Promise<string> => {
  const images = join(dir, 'images');
  await mkdir(images, { recursive: true });
  await run('skopeo', [
    ...['copy', '--src-tls-verify=false', `docker://${source}`],
    `oci-archive:${images}/source.tar:${host}/bench/source:v1`,
  ]);
  const { stdout } = await run('sha256sum', ['source.tar'], { cwd: images });
  await writeFile(join(images, 'SHA256SUMS'), stdout);
  return images;
};

/** Both tools push the oci-archive of `source`, each run into a repository of its own: a real upload each time. */
export const measurePush = async (
  host: string,
  source: string,
  dir: string,
  reps: number,
): Promise<PushFigures> => {
  const images = await writeOciArchive(host, source, dir);
  let repositories = 0;
  const fresh = () => {
    repositories += 1;
    return `bench-push/run-${repositories}`;
  };
  // skopeo remembers where it saw each blob (/var/lib/containers/cache) and would mount it from another
  // repository instead of uploading: each run gets an empty cache in a private mount namespace.
  const skopeo = await repeat(reps, () =>
    measureCommand('unshare', [
      ...['-m', 'sh', '-c', 'mount -t tmpfs tmpfs /var/lib/containers/cache && exec skopeo "$@"', 'skopeo'],
      ...['copy', '--dest-tls-verify=false', `oci-archive:${images}/source.tar`],
      `docker://${host}/${fresh()}/bench/source:v1`,
    ]),
  );
  const airlock = await repeat(reps, () => push(['--registry', `${host}/${fresh()}`, '--dir', images]));
  const target = fresh();
  await run(PUSH_SCRIPT, ['--registry', `${host}/${target}`, '--dir', images], { cwd: REPO_ROOT });
  const again = await repeat(reps, () => push(['--registry', `${host}/${target}`, '--dir', images]));
  const startup = await repeat(reps, () => push(['--help']));
  return { skopeo, airlock, again, startup };
};

const standalone = async (): Promise<void> => {
  const megabytes = Number(process.env.BENCH_PUSH_MB ?? 300);
  const reps = Number(process.env.BENCH_REPS ?? 3);
  const rig = await startRig({ components: ['registry'] });
  const dir = await mkdtemp(join(tmpdir(), 'bench-push-'));
  try {
    const host = rig.info.registry.host;
    process.stderr.write(`building a ${megabytes} MiB image and pushing it to ${host}\n`);
    const image = await largeLayerImage({ name: 'bench-push', bytes: megabytes * 1024 * 1024 });
    await pushImage(image, { registry: host, repository: 'bench/source', tag: 'v1' });
    const figures = await measurePush(host, `${host}/bench/source:v1`, dir, reps);
    const seconds = (cell: Cell) => (cell.ms / 1000).toFixed(2);
    const runs = (cell: Cell) => cell.samples.map((sample) => (sample.ms / 1000).toFixed(2)).join(' ');
    const row = (what: string, cell: Cell) =>
      `| ${what} | ${seconds(cell)} | ${runs(cell)} | ${(cell.ms / figures.skopeo.ms).toFixed(2)}x |`;
    process.stdout.write(
      [
        `| ${megabytes} MiB image, one oci-archive | median s | runs s | vs skopeo |`,
        '| --- | --- | --- | --- |',
        row('skopeo copy oci-archive: docker://', figures.skopeo),
        row('airlock push', figures.airlock),
        row('airlock push, unchanged set', figures.again),
        row('airlock push --help (start-up)', figures.startup),
        '',
      ].join('\n'),
    );
  } finally {
    await rig.stop();
    await rm(dir, { recursive: true, force: true });
  }
};

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await standalone();
