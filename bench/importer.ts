// `npx tsx bench/importer.ts`: the importer runtime's size per platform, and the hook pod's start-up in bundle
// mode (the runtime from the images directory, run in the node's pause image, self-check on) against image mode
// (the same runtime files as the `airlock/importer` image the exporter writes), on the rig's containerd, in the
// same run. docs/benchmarks.md records the figures. BENCH_REPS sets the pods per mode (default 9).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import {
  exportImporterImage,
  exportImporterRuntime,
  loaderCommand,
  runtimePlatformOf,
} from '../lib/bundle/index.ts';
import { run } from '../lib/exec/run.ts';
import { writeOutputs } from '../lib/export/outputs.ts';
import { sha256File } from '../lib/files.ts';
import { parsePlatform } from '../lib/oci/index.ts';
import { runPod } from '../rig/kubelet.ts';
import { importPauseImage, ociArchitecture, PAUSE_IMAGE } from '../rig/pause-image.ts';
import { startRig } from '../rig/rig.ts';
import { median } from './measure.ts';

const reps = Number(process.env.BENCH_REPS ?? 9);
const step = (message: string) => process.stderr.write(`${message}\n`);
const SOCKET = '/run/containerd/containerd.sock';
const NODE_IMAGES = '/var/lib/airlock/images';
const arch = ociArchitecture();
const hostPlatform = runtimePlatformOf(parsePlatform(`linux/${arch}`));

/** The hook Job's pod as the chart renders it, minus the fields the kubelet stand-in does not act on. */
const hookPod = (container: { image: string; command?: string[] }): IPodSpec => ({
  restartPolicy: 'Never',
  securityContext: { runAsUser: 0, runAsGroup: 0, runAsNonRoot: false },
  containers: [
    {
      name: 'importer',
      ...container,
      imagePullPolicy: container.command ? 'Never' : 'IfNotPresent',
      ...(container.command ? { workingDir: '/' } : {}),
      env: [
        { name: 'AIRLOCK_DIR', value: '/images' },
        { name: 'AIRLOCK_RUNTIME', value: 'containerd' },
        { name: 'AIRLOCK_CONTAINERD_ADDRESS', value: SOCKET },
        { name: 'AIRLOCK_NAMESPACE', value: 'k8s.io' },
        { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      ],
      securityContext: {
        privileged: false,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      },
      volumeMounts: [
        { name: 'images', mountPath: '/images', readOnly: true },
        { name: 'runtime-socket', mountPath: SOCKET },
        { name: 'tmp', mountPath: '/tmp' },
      ],
    },
  ],
  volumes: [
    { name: 'images', hostPath: { path: NODE_IMAGES, type: 'Directory' } },
    { name: 'runtime-socket', hostPath: { path: SOCKET, type: 'Socket' } },
    { name: 'tmp', emptyDir: {} },
  ],
});

const bundlePod = hookPod({
  image: PAUSE_IMAGE,
  command: loaderCommand(hostPlatform, `/images/importer/${hostPlatform.name}`),
});

const directorySize = async (dir: string): Promise<number> => {
  let bytes = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) bytes += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return bytes;
};

/** CPU milliseconds of this process spent in `work`. */
const cpuOf = async (work: () => Promise<unknown>): Promise<number> => {
  const before = process.cpuUsage();
  await work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
};

const streamSha256 = async (file: string): Promise<string> => {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), hash);
  return hash.digest('hex');
};

/** Wall and CPU (user + system) milliseconds of one command, from GNU time. */
interface Times {
  wall: number;
  cpu: number;
}

const timeCommand = async (command: readonly string[], env: NodeJS.ProcessEnv): Promise<Times> => {
  const { stderr } = await run('/usr/bin/time', ['-f', 'TIMES %e %U %S', ...command], { env });
  const times = /TIMES (\S+) (\S+) (\S+)\s*$/.exec(stderr);
  if (!times) throw new Error(`no times from GNU time: ${stderr}`);
  return { wall: Number(times[1]) * 1000, cpu: (Number(times[2]) + Number(times[3])) * 1000 };
};

// The kubelet stand-in takes a rig with both runtimes; both are started.
const rig = await startRig({ components: ['containerd', 'docker'] });
const dir = await mkdtemp(join(tmpdir(), 'bench-importer-'));
try {
  const images = join(dir, 'images');
  await mkdir(images);
  const platforms = ['linux/amd64', 'linux/arm64'].map(parsePlatform);
  step('exporting the importer runtime (linux/amd64, linux/arm64) and the importer image');
  const { manifest } = await exportImporterRuntime({ output: images, platforms, version: '0.1.0' });
  await writeOutputs(images, { generator: 'airlock', platforms: [], images: [], importer: manifest });
  const sizes = [];
  for (const name of ['linux-amd64', 'linux-arm64'])
    sizes.push({ name, bytes: await directorySize(join(images, 'importer', name)) });
  const imageEntry = await exportImporterImage({
    output: dir,
    platforms: [parsePlatform(`linux/${arch}`)],
    version: '0.1.0',
    compression: 'none',
  });
  const ctr = ['--address', rig.info.containerd.address, '-n', 'k8s.io'];
  await run('ctr', [...ctr, 'images', 'import', join(dir, imageEntry.file)]);
  await importPauseImage({
    address: rig.info.containerd.address,
    snapshotter: rig.info.containerd.snapshotter,
  });
  const imagePod = hookPod({ image: imageEntry.reference });

  const runOnce = async (spec: IPodSpec): Promise<number> => {
    const started = performance.now();
    const result = await runPod(rig.info, spec, {
      runtime: 'containerd',
      nodeName: 'bench-node',
      hostPaths: { [NODE_IMAGES]: images, [SOCKET]: rig.info.containerd.address },
    });
    const ms = performance.now() - started;
    if (result.exitCode !== 0 || !result.logs.includes('airlock importer'))
      throw new Error(`the hook pod failed (exit ${result.exitCode}):\n${result.logs}`);
    return ms;
  };
  step(`hook pods, ${reps} per mode, alternating`);
  await runOnce(bundlePod);
  await runOnce(imagePod);
  const bundle: number[] = [];
  const image: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? (['bundle', 'image'] as const) : (['image', 'bundle'] as const);
    for (const mode of order) {
      if (mode === 'bundle') bundle.push(await runOnce(bundlePod));
      else image.push(await runOnce(imagePod));
    }
  }

  // The same two runs as plain processes, where GNU time can tell CPU from waiting: under load the CPU is the
  // figure that carries over to an idle node. The image layout is the platform directory hard-linked elsewhere,
  // with no images directory around it, as in the importer image: nothing to check.
  step(`importer processes, ${reps} per layout, alternating`);
  const plain = join(dir, 'image-layout', 'runtime');
  await mkdir(join(dir, 'image-layout'));
  await run('cp', ['-al', join(images, 'importer', hostPlatform.name), plain]);
  const env = {
    AIRLOCK_DIR: images,
    AIRLOCK_RUNTIME: 'containerd',
    AIRLOCK_CONTAINERD_ADDRESS: rig.info.containerd.address,
    AIRLOCK_NAMESPACE: 'k8s.io',
    NODE_NAME: 'bench-node',
  };
  const bundleCommand = loaderCommand(hostPlatform, join(images, 'importer', hostPlatform.name));
  const plainCommand = loaderCommand(hostPlatform, plain);
  const processes: Record<'bundle' | 'image', Times[]> = { bundle: [], image: [] };
  for (let rep = 0; rep < reps; rep++) {
    const order = rep % 2 === 0 ? (['bundle', 'image'] as const) : (['image', 'bundle'] as const);
    for (const layout of order)
      processes[layout].push(await timeCommand(layout === 'bundle' ? bundleCommand : plainCommand, env));
  }

  step('hashing bin/node in this process: read stream against reused buffers');
  const node = join(images, 'importer', `linux-${arch}`, 'bin/node');
  const streamCpu: number[] = [];
  const buffersCpu: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    streamCpu.push(await cpuOf(() => streamSha256(node)));
    buffersCpu.push(await cpuOf(() => sha256File(node)));
  }

  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  const seconds = (values: readonly number[]) => (median(values) / 1000).toFixed(2);
  const runs = (values: readonly number[]) => values.map((ms) => (ms / 1000).toFixed(2)).join(' ');
  const difference = median(bundle) - median(image);
  process.stdout.write(
    [
      '',
      '| runtime | size MB |',
      '| --- | --- |',
      ...sizes.map((size) => `| importer/${size.name} | ${mb(size.bytes)} |`),
      '',
      `| hook pod (containerd, no archives, ${reps} each, alternating) | median s | runs s |`,
      '| --- | --- | --- |',
      `| bundle mode: pause image, runtime from /images, self-check on | ${seconds(bundle)} | ${runs(bundle)} |`,
      `| image mode: ${imageEntry.reference} | ${seconds(image)} | ${runs(image)} |`,
      `| bundle - image | ${(difference / 1000).toFixed(2)} | budget 0.10: ${difference <= 100 ? 'met' : 'NOT met'} |`,
      '',
      `| importer process (no archives, ${reps} each, alternating) | median wall s | median CPU s | CPU runs s |`,
      '| --- | --- | --- | --- |',
      ...(['bundle', 'image'] as const).map((layout) => {
        const times = processes[layout];
        const label = layout === 'bundle' ? 'bundle layout, self-check on' : 'image layout, no check';
        return `| ${label} | ${seconds(times.map((t) => t.wall))} | ${seconds(times.map((t) => t.cpu))} | ${runs(times.map((t) => t.cpu))} |`;
      }),
      '',
      `| sha256 of bin/node (${mb((await stat(node)).size)} MB), CPU ms | median | runs |`,
      '| --- | --- | --- |',
      `| createReadStream, 1 MiB chunks | ${median(streamCpu).toFixed(0)} | ${streamCpu.map((ms) => ms.toFixed(0)).join(' ')} |`,
      `| sha256File: two reused 1 MiB buffers | ${median(buffersCpu).toFixed(0)} | ${buffersCpu.map((ms) => ms.toFixed(0)).join(' ')} |`,
      '',
    ].join('\n'),
  );
} catch (error) {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await rig.stop();
  await rm(dir, { recursive: true, force: true });
}
