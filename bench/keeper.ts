// `npx tsx bench/keeper.ts [WINDOW_SECONDS]`: what the keeper costs a node while it idles (docs/benchmarks.md).
// Without watch mode the keeper's main container is the pause image's own entrypoint (busybox sh idling on
// `sleep`); with watch mode it is the bundled importer (the exported runtime's loader, node and importer.mjs) in
// watch mode at the chart's default interval, on a directory whose archives are all imported. Both run as the
// pod would run them, on this machine; RSS is read from /proc once the process settled, CPU is its user+system
// time over the window.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pushImage } from '../rig/factory/index.ts';
import { IDLE_SCRIPT, runnableImage, writeImagesDir } from '../rig/images-dir.ts';
import { ociArchitecture, STATIC_BUSYBOX } from '../rig/pause-image.ts';
import { startRig } from '../rig/rig.ts';

const WINDOW_SECONDS = Number(process.argv[2] ?? 60);
const INTERVAL_SECONDS = 30;
const CLOCK_TICKS = 100;

/** A process and its descendants, from /proc. */
const processTree = async (pid: number): Promise<number[]> => {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  const nested = await Promise.all(
    children
      .split(/\s+/)
      .filter(Boolean)
      .map((child) => processTree(Number(child))),
  );
  return [pid, ...nested.flat()];
};

const rssKiB = async (pid: number): Promise<number> => {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0);
};

const cpuTicks = async (pid: number): Promise<number> => {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th of them.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
};

const sum = async (pids: readonly number[], read: (pid: number) => Promise<number>) =>
  (await Promise.all(pids.map(read))).reduce((total, value) => total + value, 0);

interface Cost {
  rssMiB: number;
  cpuPercent: number;
}

/** RSS once settled, then CPU over the window, of the process tree. */
const measure = async (child: ChildProcess): Promise<Cost> => {
  const pid = child.pid ?? 0;
  await sleep(3_000);
  const pids = await processTree(pid);
  const rssMiB = (await sum(pids, rssKiB)) / 1024;
  const before = await sum(await processTree(pid), cpuTicks);
  await sleep(WINDOW_SECONDS * 1000);
  const after = await sum(await processTree(pid), cpuTicks);
  return { rssMiB, cpuPercent: ((after - before) / CLOCK_TICKS / WINDOW_SECONDS) * 100 };
};

const stop = async (child: ChildProcess) => {
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
};

/** Four images pushed and exported with the runtime, as a node's images directory holds them. */
const exportDirectory = async (registry: string, output: string): Promise<string[]> => {
  const references: string[] = [];
  for (const name of ['web', 'init', 'worker', 'metrics']) {
    const pushed = await pushImage(await runnableImage(name), {
      registry,
      repository: `airlock/keeper-bench-${name}`,
      tag: '1.0.0',
    });
    references.push(pushed.reference);
  }
  await mkdir(output, { recursive: true });
  await writeImagesDir(output, references, process.stderr);
  return references;
};

const rig = await startRig({ components: ['registry', 'containerd'] });
const dir = await mkdtemp(join(tmpdir(), 'keeper-bench-'));
try {
  const idle = spawn(STATIC_BUSYBOX, ['sh', '-c', IDLE_SCRIPT], { stdio: 'ignore' });
  const idleCost = await measure(idle);
  await stop(idle);

  const images = join(dir, 'images');
  const references = await exportDirectory(rig.info.registry.host, images);
  const arch = ociArchitecture();
  const runtime = join(images, 'importer', `linux-${arch}`);
  const loader = (await readdir(join(runtime, 'lib'))).find((file) => file.startsWith('ld-linux'));
  if (!loader) throw new Error(`keeper bench: no loader in ${runtime}/lib`);
  let log = '';
  const watch = spawn(
    join(runtime, 'lib', loader),
    ['--library-path', join(runtime, 'lib'), join(runtime, 'bin', 'node'), join(runtime, 'importer.mjs')],
    {
      env: {
        AIRLOCK_DIR: images,
        AIRLOCK_CONTAINERD_ADDRESS: rig.info.containerd.address,
        AIRLOCK_IMAGES: references.join('\n'),
        AIRLOCK_WATCH: 'true',
        AIRLOCK_INTERVAL: String(INTERVAL_SECONDS),
        NODE_NAME: 'bench',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  watch.stdout?.on('data', (chunk) => {
    log += String(chunk);
  });
  // The first pass imports everything; what is measured is the idle that follows.
  for (let waited = 0; !/^pass 1: /m.test(log); waited += 100) {
    if (waited > 120_000) throw new Error(`keeper bench: no first pass:\n${log}`);
    await sleep(100);
  }
  const watchCost = await measure(watch);
  await stop(watch);
  const format = (cost: Cost) =>
    `${cost.rssMiB.toFixed(1)} MiB RSS, ${cost.cpuPercent.toFixed(2)} % of one core`;
  process.stdout.write(
    `keeper idle over ${WINDOW_SECONDS} s\n` +
      `  without watch (pause entrypoint): ${format(idleCost)}\n` +
      `  watch mode, ${INTERVAL_SECONDS} s interval, 4 archives present: ${format(watchCost)}\n` +
      `${log
        .split('\n')
        .filter((line) => line.startsWith('pass '))
        .join('\n')}\n`,
  );
} finally {
  await rig.stop();
  await rm(dir, { recursive: true, force: true });
}
