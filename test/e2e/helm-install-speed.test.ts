// The speed proof for the List hook: every node's Job imports the same 30-image set. What is asserted is
// the mechanism: on 4 nodes the four Jobs run at the same time (each starts before any completes), where hooks in
// sequence would run them one after another. The wall times of 1 and 4 nodes are logged: the 1.5× bound
// holds only while the cores are free for four importers at once (docs/testing.md has the measurements).
// One 1-node and one 4-node stand-in serve both Helm majors; each major imports a set of its own, so both
// measure real imports. The chart is the demo chart plus 26 more images in the worker's pod template, with no
// replicas: the release names 30 images and runs none of them.
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ClusterStatus, startCluster, stopCluster } from '../../rig/cluster/index.ts';
import { imageStatus } from '../../rig/cri.ts';
import { ociImage, pushImage } from '../../rig/factory/index.ts';
import { writeImagesDir } from '../../rig/images-dir.ts';
import { makeRigDir } from '../../rig/workdir.ts';
import { chartDir } from '../chart/chart-render.ts';
import { against, type CommandResult, kubectlPath } from '../cluster/helpers.ts';
import { type AppImages, copyToNodes as copyImagesToNodes, pushAppImages } from './images-dir.ts';

const rig = inject('rig');
const NODE_IMAGES = '/var/lib/airlock/images';
const EXTRA = 26;

let dir: string;
let chart: string;
let apps: AppImages;
const clusters: Record<1 | 4, ClusterStatus | undefined> = { 1: undefined, 4: undefined };

/** The demo chart with `extraImages` listed as containers of the worker's pod template. */
const writeChart = async (target: string): Promise<void> => {
  await cp(chartDir, target, { recursive: true });
  const worker = join(target, 'templates', 'worker-deployment.yaml');
  const template = await readFile(worker, 'utf8');
  const extra = [
    '        {{- range $index, $image := .Values.extraImages }}',
    '        - name: extra-{{ $index }}',
    '          image: {{ $image }}',
    '          imagePullPolicy: IfNotPresent',
    '        {{- end }}',
    '      volumes:',
  ].join('\n');
  await writeFile(worker, template.replace(/^ {6}volumes:$/m, extra));
  const schemaFile = join(target, 'values.schema.json');
  const schema = JSON.parse(await readFile(schemaFile, 'utf8'));
  schema.properties.extraImages = { type: 'array', items: { type: 'string' } };
  await writeFile(schemaFile, JSON.stringify(schema));
};

const pushExtraImages = async (prefix: string): Promise<string[]> => {
  const references: string[] = [];
  for (let index = 0; index < EXTRA; index += 1) {
    const image = await ociImage({ name: `${prefix}-${index}` });
    const repository = `${prefix}/extra-${index}`;
    await pushImage(image, { registry: rig.registry.host, repository, tag: '1.0.0' });
    references.push(`${rig.registry.host}/${repository}:1.0.0`);
  }
  return references;
};

const copyToNodes = (status: ClusterStatus, source: string): Promise<void> =>
  copyImagesToNodes(status, NODE_IMAGES, source);

beforeAll(async () => {
  dir = await makeRigDir('airlock-speed-');
  apps = await pushAppImages(rig, 'speed');
  chart = join(dir, 'chart');
  await writeChart(chart);
  clusters[1] = await startCluster({ dir: join(dir, 'one'), nodes: 1 });
  clusters[4] = await startCluster({ dir: join(dir, 'four'), nodes: 4 });
}, 900_000);

afterAll(async () => {
  await stopCluster(join(dir, 'one'));
  await stopCluster(join(dir, 'four'));
});

const install = async (
  status: ClusterStatus,
  major: 'v3' | 'v4',
  extra: string[],
): Promise<{ result: CommandResult; seconds: number }> => {
  const run = against(status.kubeconfig, join(dir, `home-${status.nodes.length}`));
  const started = Date.now();
  const result = await run(
    rig.helm[major].path,
    [
      'install',
      `speed-${major}`,
      chart,
      '-n',
      `speed-${major}`,
      '--create-namespace',
      '--timeout',
      '5m',
      '--set-json',
      `web=${JSON.stringify({ ...(apps.values.web as object), replicaCount: 0 })}`,
      '--set-json',
      `worker=${JSON.stringify({ ...(apps.values.worker as object), replicaCount: 0 })}`,
      '--set-json',
      `extraImages=${JSON.stringify(extra)}`,
      '--set',
      'imagePull.enabled=true',
      '--set',
      `imagePull.imagesPath=${NODE_IMAGES}`,
    ],
    360_000,
  );
  return { result, seconds: (Date.now() - started) / 1000 };
};

/** [start, completion] of each import Job, in seconds, as the Job controller recorded them. */
const jobTimes = async (status: ClusterStatus, namespace: string): Promise<[number, number][]> => {
  const run = against(status.kubeconfig, join(dir, 'home-jobs'));
  const selector = 'app.kubernetes.io/component=image-import';
  const listed = await run(await kubectlPath(), [
    'get',
    'jobs',
    '-n',
    namespace,
    '-l',
    selector,
    '-o',
    'json',
  ]);
  expect(listed.exitCode, listed.stderr).toBe(0);
  const { items } = JSON.parse(listed.stdout) as {
    items: { status: { startTime: string; completionTime: string } }[];
  };
  return items.map(({ status: job }) => [
    Date.parse(job.startTime) / 1000,
    Date.parse(job.completionTime) / 1000,
  ]);
};

describe.each(['v3', 'v4'] as const)('helm install with Helm %s, 30 images a node', (major) => {
  it("runs the four nodes' Jobs at the same time, and every node has every image", async () => {
    const extra = await pushExtraImages(`speed-${major}`);
    const references = [...apps.references, ...extra];
    expect(references).toHaveLength(30);
    const images = join(dir, `export-${major}`);
    await mkdir(images);
    await writeImagesDir(images, references);
    const times: Record<number, number> = {};
    for (const size of [1, 4] as const) {
      const status = clusters[size]!;
      await copyToNodes(status, images);
      const { result, seconds } = await install(status, major, extra);
      expect(result.exitCode, `${result.stdout}\n${result.stderr}`).toBe(0);
      times[size] = seconds;
      for (const node of status.nodes) {
        for (const reference of references) {
          expect((await imageStatus(node.containerd, reference)).found, `${reference} on ${node.name}`).toBe(
            true,
          );
        }
      }
    }
    const ratio = (times[4] ?? 0) / (times[1] ?? 1);
    console.log(
      `Helm ${major}: 1 node ${times[1]?.toFixed(1)} s, 4 nodes ${times[4]?.toFixed(1)} s (${ratio.toFixed(2)}x)`,
    );
    const jobs = await jobTimes(clusters[4]!, `speed-${major}`);
    expect(jobs).toHaveLength(4);
    const lastStart = Math.max(...jobs.map(([start]) => start));
    const firstCompletion = Math.min(...jobs.map(([, completion]) => completion));
    expect(lastStart, JSON.stringify(jobs)).toBeLessThanOrEqual(firstCompletion);
  }, 900_000);
});
