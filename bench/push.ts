// `npx tsx bench/push.ts`: airlock's push against `skopeo copy oci-archive: docker://` for the same archive, into
// the rig's registry. Prints the medians and the ratio; docs/benchmarks.md records them. BENCH_PUSH_MB sizes the
// large layer (default 300, as the main bench), BENCH_REPS the repetitions (default 3). The push runs as a user
// runs it, `./scripts/push-images.ts` through its shebang; its `--help` row is the start-up inside every push.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../lib/exec/run.ts';
import { largeLayerImage, pushImage } from '../rig/factory/index.ts';
import { startRig } from '../rig/rig.ts';
import { REPO_ROOT } from './export.ts';
import { type Cell, measureCommand, repeat } from './measure.ts';

const megabytes = Number(process.env.BENCH_PUSH_MB ?? 300);
const reps = Number(process.env.BENCH_REPS ?? 3);
const step = (message: string) => process.stderr.write(`${message}\n`);
const PUSH_SCRIPT = join(REPO_ROOT, 'scripts/push-images.ts');
const push = (args: string[]) => measureCommand(PUSH_SCRIPT, args, { cwd: REPO_ROOT });

const rig = await startRig({ components: ['registry'] });
const dir = await mkdtemp(join(tmpdir(), 'bench-push-'));
try {
  const host = rig.info.registry.host;
  step(`building a ${megabytes} MiB image and pushing it to ${host}`);
  const image = await largeLayerImage({ name: 'bench-push', bytes: megabytes * 1024 * 1024 });
  await pushImage(image, { registry: host, repository: 'bench/source', tag: 'v1' });
  const images = join(dir, 'images');
  await mkdir(images);
  await run('skopeo', [
    ...['copy', '--src-tls-verify=false', `docker://${host}/bench/source:v1`],
    `oci-archive:${images}/source.tar:${host}/bench/source:v1`,
  ]);
  const { stdout } = await run('sha256sum', ['source.tar'], { cwd: images });
  await writeFile(join(images, 'SHA256SUMS'), stdout);

  // A fresh repository for every run of either tool: nothing to skip, a real upload each time.
  let repositories = 0;
  const fresh = () => {
    repositories += 1;
    return `bench/run-${repositories}`;
  };
  // skopeo remembers where it saw each blob (/var/lib/containers/cache) and would mount it from bench/source
  // instead of uploading: each run gets an empty cache in a private mount namespace.
  step('skopeo copy oci-archive: docker://');
  const skopeo: Cell = await repeat(reps, () =>
    measureCommand('unshare', [
      ...['-m', 'sh', '-c', 'mount -t tmpfs tmpfs /var/lib/containers/cache && exec skopeo "$@"', 'skopeo'],
      ...['copy', '--dest-tls-verify=false', `oci-archive:${images}/source.tar`],
      `docker://${host}/${fresh()}/bench/source:v1`,
    ]),
  );
  step('airlock push');
  const airlock: Cell = await repeat(reps, () => push(['--registry', `${host}/${fresh()}`, '--dir', images]));
  step('airlock push again (unchanged set)');
  const target = fresh();
  await run(PUSH_SCRIPT, ['--registry', `${host}/${target}`, '--dir', images], { cwd: REPO_ROOT });
  const again: Cell = await repeat(reps, () => push(['--registry', `${host}/${target}`, '--dir', images]));
  step('airlock push --help (start-up)');
  const startup: Cell = await repeat(reps, () => push(['--help']));
  const seconds = (cell: Cell) => (cell.ms / 1000).toFixed(2);
  const runs = (cell: Cell) => cell.samples.map((sample) => (sample.ms / 1000).toFixed(2)).join(' ');
  process.stdout.write(
    [
      `| ${megabytes} MiB image, one oci-archive | median s | runs s | vs skopeo |`,
      '| --- | --- | --- | --- |',
      `| skopeo copy oci-archive: docker:// | ${seconds(skopeo)} | ${runs(skopeo)} | 1.00x |`,
      `| airlock push | ${seconds(airlock)} | ${runs(airlock)} | ${(airlock.ms / skopeo.ms).toFixed(2)}x |`,
      `| airlock push, unchanged set | ${seconds(again)} | ${runs(again)} | ${(again.ms / skopeo.ms).toFixed(2)}x |`,
      `| airlock push --help (start-up) | ${seconds(startup)} | ${runs(startup)} | ${(startup.ms / skopeo.ms).toFixed(2)}x |`,
      '',
    ].join('\n'),
  );
} finally {
  await rig.stop();
  await rm(dir, { recursive: true, force: true });
}
