// The keeper on the cluster stand-in (issue #10's proofs): the chart's non-hook objects applied with kubectl, the
// exported images directory on every node's hostPath, and each node's own containerd asked through CRI
// ImageStatus, the question kubelet asks before it would pull. The release's images are runnable busybox images
// pushed to the rig's registry, which no node ever pulls from (the stand-in never pulls).
import { cp, mkdir, readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runtimeCacheDir } from '../../lib/bundle/cache.ts';
import { run } from '../../lib/exec/run.ts';
import { normalizeReference } from '../../lib/reference/index.ts';
import {
  addNode,
  type ClusterStatus,
  clusterStatus,
  startCluster,
  stopCluster,
} from '../../rig/cluster/index.ts';
import { daemonLog } from '../../rig/cluster/paths.ts';
import { imageStatus } from '../../rig/cri.ts';
import { pushImage } from '../../rig/factory/index.ts';
import { runnableImage, writeImagesDir } from '../../rig/images-dir.ts';
import { PAUSE_IMAGE } from '../../rig/pause-image.ts';
import { makeRigDir } from '../../rig/workdir.ts';
import { imagesOf, NAMESPACE, renderChart, renderDocuments } from '../chart/chart-render.ts';
import { against, type CommandResult, kubectlPath } from '../cluster/helpers.ts';

const rig = inject('rig');
const NODE_IMAGES = '/var/lib/airlock/images';

let dir: string;
let status: ClusterStatus;
let kubectl: (args: string[]) => Promise<CommandResult>;
let workerDigest: string;
/** Exported images directories: v1 (the install's four images) and v2 (v1 plus the upgrade's metrics 2.0.0). */
const exports = { v1: '', v2: '' };

const values = (keeper: object = {}, metricsTag = '1.0.0') => ({
  web: {
    image: { registry: rig.registry.host },
    initImage: { registry: rig.registry.host },
  },
  worker: {
    image: { registry: rig.registry.host, digest: workerDigest },
    metrics: { image: { registry: rig.registry.host, tag: metricsTag } },
  },
  imagePull: {
    enabled: true,
    runtime: 'containerd',
    imagesPath: NODE_IMAGES,
    retries: 0,
    importer: { hostImage: PAUSE_IMAGE },
    keeper: { image: PAUSE_IMAGE, ...keeper },
  },
});

/** The release's images as its pods name them. */
const releaseImages = async (metricsTag = '1.0.0') =>
  imagesOf(
    (await renderChart(rig.helm.v3.path, values({}, metricsTag))).filter(
      (object) => object.kind === 'Deployment',
    ),
  );

const exportSet = async (output: string, metricsTag: string) => {
  await mkdir(output, { recursive: true });
  await writeImagesDir(output, await releaseImages(metricsTag), process.stderr);
};

const nodeImagesDir = (node: string) => join(dir, 'nodes', node, NODE_IMAGES);

/** Puts an export on a node, replacing what was there (the directory itself stays: running pods mount it). */
const placeImages = async (node: string, source: string) => {
  const target = nodeImagesDir(node);
  await mkdir(target, { recursive: true });
  for (const entry of await readdir(target)) await rm(join(target, entry), { recursive: true, force: true });
  await cp(source, target, { recursive: true });
};

/** The chart's objects that are not hooks, applied as `helm install` would create them (server-side apply). */
const applyRelease = async (releaseValues: object) => {
  // The hook's Jobs sit in one List that carries the hook annotation: left out whole, as the keeper is proven alone.
  const objects = (await renderDocuments(rig.helm.v3.path, releaseValues)).filter(
    (object) => !object.metadata.annotations?.['helm.sh/hook'],
  );
  expect(objects.map((object) => object.kind)).not.toContain('List');
  const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } };
  const file = join(dir, 'release.yaml');
  await writeFile(file, [namespace, ...objects].map((object) => JSON.stringify(object)).join('\n---\n'));
  const result = await kubectl(['apply', '--server-side', '--field-manager', 'helm', '-f', file]);
  expect(result.exitCode, result.stderr).toBe(0);
};

const socketOf = (node: string) => {
  const found = status.nodes.find((entry) => entry.name === node);
  if (!found) throw new Error(`no node ${node}`);
  return found.containerd;
};

const missingOn = async (node: string, references: readonly string[]) => {
  const missing: string[] = [];
  for (const reference of references) {
    if (!(await imageStatus(socketOf(node), reference)).found) missing.push(reference);
  }
  return missing;
};

/** What the keepers show, for a failure message: each pod's node, phase and containers, and its logs. */
const keeperReport = async (): Promise<string> => {
  const lines: string[] = [];
  const listed = await kubectl([
    'get',
    'pods',
    '-n',
    NAMESPACE,
    '-l',
    'app.kubernetes.io/component=image-keeper',
    '-o',
    'json',
  ]);
  const items = listed.exitCode === 0 ? (JSON.parse(listed.stdout) as { items: PodView[] }).items : [];
  for (const pod of items) {
    lines.push(
      `${pod.metadata.name} on ${pod.spec.nodeName}: ${pod.status.phase} ${JSON.stringify(pod.status.containerStatuses)}`,
    );
    for (const container of ['importer', 'watch']) {
      const logs = await kubectl([
        'logs',
        '-n',
        NAMESPACE,
        pod.metadata.name,
        '-c',
        container,
        '--tail',
        '15',
      ]);
      lines.push(`--- ${container}:\n${logs.stdout}${logs.stderr}`);
    }
  }
  return lines.join('\n');
};

/** What the release's workloads show, for a failure message: pods with their status, ReplicaSets, the daemon's log. */
const workloadReport = async (): Promise<string> => {
  const listed = await kubectl(['get', 'pods,replicasets', '-n', NAMESPACE, '-o', 'json']);
  const items = listed.exitCode === 0 ? (JSON.parse(listed.stdout) as { items: KubeView[] }).items : [];
  const lines = items.map(
    (item) =>
      `${item.kind} ${item.metadata.name} ${JSON.stringify({ node: item.spec?.nodeName, replicas: item.spec?.replicas, status: item.status })}`,
  );
  const log = await readFile(daemonLog(dir), 'utf8').catch(() => '');
  return [...lines, '--- cluster.log:', ...log.split('\n').slice(-40)].join('\n');
};

interface PodTemplate {
  metadata: { labels?: Record<string, string> };
  spec: Record<string, unknown>;
}

interface KubeView {
  kind: string;
  metadata: { name: string };
  spec?: { nodeName?: string; replicas?: number };
  status?: object;
}

const until = async <T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 120_000,
  report: () => Promise<string> = keeperReport,
): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${await report()}`);
    await sleep(250);
  }
};

interface PodView {
  metadata: { name: string; uid: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status: {
    phase?: string;
    containerStatuses?: {
      name: string;
      ready: boolean;
      restartCount: number;
      state?: { running?: object };
    }[];
  };
}

const pods = async (selector: string): Promise<PodView[]> => {
  const result = await kubectl(['get', 'pods', '-n', NAMESPACE, '-l', selector, '-o', 'json']);
  expect(result.exitCode, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { items: PodView[] }).items;
};

const KEEPER = 'app.kubernetes.io/component=image-keeper';
/** The status of a keeper pod's watch container (the stand-in's server-side apply may keep the old idle one). */
const watching = (pod: PodView | undefined) =>
  pod?.status.containerStatuses?.find((container) => container.name === 'watch');
const keeperOn = async (node: string) =>
  (await pods(KEEPER)).find((pod) => pod.spec.nodeName === node && pod.status.phase === 'Running');

const logsOf = async (pod: string, container: string) =>
  (await kubectl(['logs', '-n', NAMESPACE, pod, '-c', container])).stdout;

/**
 * The runtime cache with a private importer/ beside the shared sources and assembled files: checkouts that share
 * node_modules/.cache build their own importer.mjs into the same file, and the export must carry this tree's.
 */
const privateImporterCache = async (): Promise<string> => {
  const shared = runtimeCacheDir();
  const cache = join(dir, 'cache');
  await mkdir(join(cache, 'runtime'), { recursive: true });
  for (const entry of await readdir(shared).catch(() => [] as string[])) {
    if (entry !== 'importer') await symlink(join(shared, entry), join(cache, 'runtime', entry));
  }
  return cache;
};

beforeAll(async () => {
  dir = await makeRigDir('keeper-');
  process.env.AIRLOCK_CACHE_DIR = await privateImporterCache();
  const startingCluster = startCluster({ dir, nodes: 2 });
  for (const name of ['demo-web', 'demo-init', 'demo-worker', 'demo-metrics']) {
    const pushed = await pushImage(await runnableImage(name, { exits: name === 'demo-init' }), {
      registry: rig.registry.host,
      repository: `airlock/${name}`,
      tag: '1.0.0',
    });
    if (name === 'demo-worker') workerDigest = pushed.digest;
  }
  await pushImage(await runnableImage('demo-metrics-2'), {
    registry: rig.registry.host,
    repository: 'airlock/demo-metrics',
    tag: '2.0.0',
  });
  exports.v1 = join(dir, 'export-v1');
  exports.v2 = join(dir, 'export-v2');
  await exportSet(exports.v1, '1.0.0');
  await exportSet(exports.v2, '2.0.0');
  status = await startingCluster;
  const home = join(dir, 'home');
  const binary = await kubectlPath();
  kubectl = (args) => against(status.kubeconfig, home)(binary, args);
  for (const node of status.nodes) await placeImages(node.name, exports.v1);
}, 900_000);

afterAll(async () => {
  if (!dir) return;
  await stopCluster(dir);
  await rm(dir, { recursive: true, force: true });
});

describe('the keeper on the cluster stand-in', () => {
  it('imports on every node at install, and on a node added later within 30 s; a release pod there starts', async () => {
    const images = await releaseImages();
    await applyRelease(values());
    for (const node of ['node-1', 'node-2']) {
      await until(`the keeper on ${node}`, () => keeperOn(node));
      expect(await missingOn(node, images)).toEqual([]);
    }
    await placeImages('node-3', exports.v1);
    const added = performance.now();
    status = await addNode(dir, 'node-3');
    await until('node-3 Ready', async () =>
      (await clusterStatus(dir)).nodes.find((node) => node.name === 'node-3')?.ready ? true : undefined,
    );
    const ready = performance.now();
    await until('every image on node-3', async () =>
      status.nodes.some((node) => node.name === 'node-3') && (await missingOn('node-3', images)).length === 0
        ? true
        : undefined,
    );
    const seconds = (performance.now() - ready) / 1000;
    process.stderr.write(
      `node-3: every image ${seconds.toFixed(1)} s after it was Ready, ${((performance.now() - added) / 1000).toFixed(1)} s after node add\n`,
    );
    // From the node's joining (Ready), as a real node joins: its containerd's start is not the keeper's time.
    expect(seconds).toBeLessThan(30);
    const keeper = await until('the keeper on node-3', () => keeperOn('node-3'));
    expect(await logsOf(keeper.metadata.name, 'importer')).toMatch(
      /^\{"airlock":"import-summary","node":"node-3"/m,
    );

    // A release pod placed on the late node starts from the imported images alone: the web Deployment's pod
    // template as a Pod of its own, which the scheduler puts on node-3 by its hostname label.
    const deployment = await kubectl([
      'get',
      'deployment',
      '-n',
      NAMESPACE,
      'demo-airlock-demo-web',
      '-o',
      'json',
    ]);
    expect(deployment.exitCode, deployment.stderr).toBe(0);
    const { template } = (JSON.parse(deployment.stdout) as { spec: { template: PodTemplate } }).spec;
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...template.metadata, name: 'web-on-node-3', namespace: NAMESPACE },
      spec: { ...template.spec, nodeSelector: { 'kubernetes.io/hostname': 'node-3' } },
    };
    const podFile = join(dir, 'web-on-node-3.json');
    await writeFile(podFile, JSON.stringify(pod));
    const created = await kubectl(['create', '-f', podFile]);
    expect(created.exitCode, created.stderr).toBe(0);
    const web = await until(
      'the web pod running on node-3',
      async () =>
        (await pods('app.kubernetes.io/component=web')).find(
          (candidate) =>
            candidate.metadata.name === 'web-on-node-3' &&
            candidate.spec.nodeName === 'node-3' &&
            candidate.status.phase === 'Running' &&
            candidate.status.containerStatuses?.every((container) => container.ready),
        ),
      120_000,
      workloadReport,
    );
    expect(web.status.containerStatuses?.map((container) => container.restartCount)).toEqual([0]);
  }, 480_000);

  it('an upgrade that adds an image rolls every keeper and reaches every node, the late one included', async () => {
    const images = await releaseImages('2.0.0');
    const added = images.filter((reference) => reference.includes('demo-metrics:2.0.0'));
    expect(added).toHaveLength(1);
    for (const node of ['node-1', 'node-2', 'node-3']) {
      await placeImages(node, exports.v2);
      expect(await missingOn(node, added)).toEqual(added);
    }
    await applyRelease(values({}, '2.0.0'));
    for (const node of ['node-1', 'node-2', 'node-3']) {
      await until(`metrics 2.0.0 on ${node}`, async () =>
        (await missingOn(node, images)).length === 0 ? true : undefined,
      );
    }
  }, 240_000);

  it('in watch mode imports an archive copied into one node later, without a restart', async () => {
    const images = await releaseImages('2.0.0');
    const metrics = images.find((reference) => reference.includes('demo-metrics:2.0.0'))!;
    const archive = (await readdir(exports.v2)).find((name) => name.includes('demo-metrics_2.0.0'));
    expect(archive).toBeDefined();
    // node-2 loses the image and its archive before the keepers switch to watch mode.
    await rm(join(nodeImagesDir('node-2'), archive!));
    await run('ctr', [
      '--address',
      socketOf('node-2'),
      '-n',
      'k8s.io',
      'images',
      'rm',
      normalizeReference(metrics),
    ]);
    expect(await missingOn('node-2', [metrics])).toEqual([metrics]);
    await applyRelease(values({ watch: true, interval: 2 }, '2.0.0'));
    const keeper = await until('a watching keeper on node-2', async () => {
      const pod = await keeperOn('node-2');
      return watching(pod)?.state?.running ? pod : undefined;
    });
    await until('the first pass on node-2', async () =>
      /^pass 1: /m.test(await logsOf(keeper.metadata.name, 'watch')) ? true : undefined,
    );
    expect(await missingOn('node-2', [metrics])).toEqual([metrics]);

    await cp(join(exports.v2, archive!), join(nodeImagesDir('node-2'), archive!));
    await until('metrics 2.0.0 imported on node-2', async () =>
      (await missingOn('node-2', [metrics])).length === 0 ? true : undefined,
    );
    // The runtime has the image a moment before the pass prints its status.
    await until('the synced line', async () =>
      (await logsOf(keeper.metadata.name, 'watch')).includes(`synced   ${archive}  imported`)
        ? true
        : undefined,
    );
    const after = await keeperOn('node-2');
    expect(after?.metadata.uid).toBe(keeper.metadata.uid);
    expect(watching(after)?.restartCount).toBe(0);
  }, 240_000);

  it('a keeper on a node with a corrupt archive reports it, imports the rest and keeps running', async () => {
    const images = await releaseImages('2.0.0');
    const names = await readdir(exports.v2);
    const broken = names.find((name) => name.includes('demo-web_'))!;
    const intact = names.find((name) => name.includes('demo-init_'))!;
    const web = images.find((reference) => reference.includes('demo-web'))!;
    const init = images.find((reference) => reference.includes('demo-init'))!;
    const keeper = await until('a watching keeper on node-1', async () => {
      const pod = await keeperOn('node-1');
      return watching(pod) ? pod : undefined;
    });
    await run('ctr', [
      '--address',
      socketOf('node-1'),
      '-n',
      'k8s.io',
      'images',
      'rm',
      normalizeReference(web),
      normalizeReference(init),
    ]);
    // The same length with the last bytes zeroed, written as a new file (the export's copy stays whole), sitting
    // still for an hour: a corrupt copy, not one in progress.
    const bytes = await readFile(join(exports.v2, broken));
    bytes.fill(0, bytes.length - 4096);
    const target = join(nodeImagesDir('node-1'), broken);
    await rm(target);
    await writeFile(target, bytes);
    const hourAgo = new Date(Date.now() - 3_600_000);
    await utimes(target, hourAgo, hourAgo);
    await rm(join(nodeImagesDir('node-1'), intact));
    await cp(join(exports.v2, intact), join(nodeImagesDir('node-1'), intact));

    await until('demo-init imported again on node-1', async () =>
      (await missingOn('node-1', [init])).length === 0 ? true : undefined,
    );
    const log = await until('the corrupt archive reported', async () => {
      const text = await logsOf(keeper.metadata.name, 'watch');
      return new RegExp(`^failed {3}${broken.replaceAll('.', '\\.')} {2}— .+$`, 'm').test(text)
        ? text
        : undefined;
    });
    expect(log).toMatch(/"failed":1/);
    expect(await missingOn('node-1', [web])).toEqual([web]);
    await sleep(5_000);
    const after = await keeperOn('node-1');
    expect(after?.metadata.uid).toBe(keeper.metadata.uid);
    expect(watching(after)).toMatchObject({
      restartCount: 0,
      state: { running: expect.anything() },
    });
  }, 240_000);
});
