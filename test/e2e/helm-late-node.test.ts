// A node that joins after `helm install` (issue #10), with Helm 3 and 4 on the cluster stand-in: the release's
// keeper DaemonSet, created by Helm itself with the pause image it looked up on the nodes, puts every image the
// Deployments name on the new node within 30 s of its Ready, asked through that node's own CRI ImageStatus.
import { cp, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { addNode, type ClusterStatus, clusterStatus, stopCluster } from '../../rig/cluster/index.ts';
import { imageStatus } from '../../rig/cri.ts';
import { chartDir } from '../chart/chart-render.ts';
import type { CommandResult } from '../cluster/helpers.ts';
import { type AppImages, startAppStandIn } from './images-dir.ts';

const rig = inject('rig');
const NODE_IMAGES = '/var/lib/airlock/images';

let dir: string;
let status: ClusterStatus;
let apps: AppImages;
let imagesDir: string;
let run: (binary: string, args: string[], timeout?: number) => Promise<CommandResult>;
let kubectl: (args: string[]) => Promise<CommandResult>;

const clusterDir = () => join(dir, 'cluster');

/** What an operator does for a node before it joins: the images directory onto its disk. */
const copyTo = async (node: string): Promise<void> => {
  const target = join(clusterDir(), 'nodes', node, NODE_IMAGES);
  await mkdir(join(target, '..'), { recursive: true });
  await cp(imagesDir, target, { recursive: true });
};

beforeAll(async () => {
  ({ dir, apps, imagesDir, status, kubectl, run } = await startAppStandIn(rig, 'late', 2));
  for (const node of status.nodes) await copyTo(node.name);
}, 900_000);

afterAll(async () => {
  if (status) await stopCluster(clusterDir());
});

const until = async (what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
};

const missingOn = async (node: string): Promise<string[]> => {
  const socket = status.nodes.find((entry) => entry.name === node)?.containerd;
  if (!socket) return [...apps.references];
  const missing: string[] = [];
  for (const reference of apps.references) {
    if (!(await imageStatus(socket, reference)).found) missing.push(reference);
  }
  return missing;
};

describe.each([
  ['v3', 'node-3'],
  ['v4', 'node-4'],
] as const)('a node that joins after helm install with Helm %s', (major, late) => {
  it(`${late} has every image the Deployments name within 30 s of Ready, from the release's keeper`, async () => {
    const namespace = `late-${major}`;
    const install = await run(
      rig.helm[major].path,
      [
        'install',
        namespace,
        chartDir,
        '-n',
        namespace,
        '--create-namespace',
        '--timeout',
        '5m',
        '--set-json',
        `web=${JSON.stringify(apps.values.web)}`,
        '--set-json',
        `worker=${JSON.stringify(apps.values.worker)}`,
        '--set',
        'imagePull.enabled=true',
        '--set',
        `imagePull.imagesPath=${NODE_IMAGES}`,
      ],
      360_000,
    );
    expect(install.exitCode, `${install.stdout}\n${install.stderr}`).toBe(0);

    await copyTo(late);
    status = await addNode(clusterDir(), late);
    await until(`${late} Ready`, 120_000, async () =>
      (await clusterStatus(clusterDir())).nodes.some((node) => node.name === late && node.ready),
    );
    // From the node's joining (Ready), as a real node joins: its containerd's start is not the keeper's time.
    const ready = performance.now();
    let missing = await missingOn(late);
    while (missing.length > 0 && performance.now() - ready < 30_000) {
      await sleep(250);
      missing = await missingOn(late);
    }
    const seconds = (performance.now() - ready) / 1000;
    process.stderr.write(`${late} (Helm ${major}): every image ${seconds.toFixed(1)} s after it was Ready\n`);
    const keepers = await kubectl(['get', 'pods', '-n', namespace, '-o', 'wide']);
    expect(missing, keepers.stdout).toEqual([]);

    // What the operator reads: the keeper pod on the new node, its importer's summary for that node.
    const pods = await kubectl([
      'get',
      'pods',
      '-n',
      namespace,
      '-l',
      'app.kubernetes.io/component=image-keeper',
      '--field-selector',
      `spec.nodeName=${late}`,
      '-o',
      'jsonpath={.items[0].metadata.name}',
    ]);
    expect(pods.stdout, pods.stderr).toMatch(/image-keeper/);
    const summary = new RegExp(`^\\{"airlock":"import-summary","node":"${late}","runtime":"containerd"`, 'm');
    await until(`the import summary of ${late}'s keeper`, 60_000, async () =>
      summary.test((await kubectl(['logs', '-n', namespace, pods.stdout, '-c', 'importer'])).stdout),
    );
  }, 600_000);
});
