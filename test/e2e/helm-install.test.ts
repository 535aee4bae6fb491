// `helm install` for real, Helm 3 and 4, of the demo chart in bundle mode on the cluster stand-in: every node
// imports through its own containerd, the hook's Jobs run at once, a NotReady node is left out and named, and
// uninstall leaves nothing of the hook.
import { cp, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ClusterStatus, downNode, startCluster, stopCluster } from '../../rig/cluster/index.ts';
import { imageStatus } from '../../rig/cri.ts';
import { makeRigDir } from '../../rig/workdir.ts';
import { chartDir } from '../chart/chart-render.ts';
import { against, type CommandResult, kubectlPath } from '../cluster/helpers.ts';
import { type AppImages, pushAppImages, writeImagesDir } from './images-dir.ts';

const rig = inject('rig');
const NODE_IMAGES = '/var/lib/airlock/images';
const SELECTOR = 'app.kubernetes.io/component=image-import';

let dir: string;
let status: ClusterStatus;
let apps: AppImages;
let imagesDir: string;
let run: (binary: string, args: string[], timeout?: number) => Promise<CommandResult>;
let kubectl: (args: string[]) => Promise<CommandResult>;

const expectSuccess = (result: CommandResult): CommandResult => {
  expect(result.exitCode, `${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
};

beforeAll(async () => {
  dir = await makeRigDir('airlock-hi-');
  apps = await pushAppImages(rig, 'hi');
  imagesDir = join(dir, 'export');
  await mkdir(imagesDir);
  await writeImagesDir(imagesDir, apps.references);
  status = await startCluster({ dir: join(dir, 'cluster'), nodes: 3 });
  for (const node of status.nodes) {
    await mkdir(join(node.root, NODE_IMAGES, '..'), { recursive: true });
    await cp(imagesDir, join(node.root, NODE_IMAGES), { recursive: true });
  }
  run = against(status.kubeconfig, join(dir, 'home'));
  const kubectlBinary = await kubectlPath();
  kubectl = (args) => run(kubectlBinary, args);
}, 900_000);

afterAll(async () => {
  if (status) await stopCluster(join(dir, 'cluster'));
});

const valuesArgs = (extra: string[] = []) => [
  '--set-json',
  `web=${JSON.stringify(apps.values.web)}`,
  '--set-json',
  `worker=${JSON.stringify(apps.values.worker)}`,
  '--set',
  'imagePull.enabled=true',
  '--set',
  `imagePull.imagesPath=${NODE_IMAGES}`,
  '--set',
  'imagePull.retries=0',
  ...extra,
];

const helmBinary = (major: 'v3' | 'v4') => rig.helm[major].path;

const hookObjects = async (namespace: string): Promise<string> =>
  expectSuccess(
    await kubectl([
      'get',
      'jobs,pods,serviceaccounts,roles,rolebindings',
      '-n',
      namespace,
      '-l',
      'app.kubernetes.io/component in (image-import,image-import-cleanup)',
      '-o',
      'name',
    ]),
  ).stdout.trim();

describe.each(['v3', 'v4'] as const)('helm install with Helm %s on the stand-in', (major) => {
  const namespace = `hi-${major}`;
  const release = `demo-${major}`;

  it('imports on every node at once; each node has every image the Deployments name', async () => {
    const install = expectSuccess(
      await run(
        helmBinary(major),
        [
          'install',
          release,
          chartDir,
          '-n',
          namespace,
          '--create-namespace',
          '--timeout',
          '5m',
          ...valuesArgs(),
        ],
        360_000,
      ),
    );
    for (const node of status.nodes.filter((candidate) => candidate.ready)) {
      expect(install.stdout).toContain(`${node.name}: containerd at /run/containerd/containerd.sock`);
      for (const reference of apps.references) {
        expect((await imageStatus(node.containerd, reference)).found, `${reference} on ${node.name}`).toBe(
          true,
        );
      }
    }
  });

  it('shows each node’s table with kubectl logs as the guide writes it', async () => {
    const logs = expectSuccess(
      await kubectl(['logs', '-n', namespace, '-l', SELECTOR, '--prefix', '--tail=-1']),
    ).stdout;
    for (const node of status.nodes.filter((candidate) => candidate.ready)) {
      expect(logs).toMatch(
        new RegExp(
          `^\\[pod/${release}-airlock-demo-image-import-${node.name}-\\S+/importer\\] IMAGE +SIZE +RESULT`,
          'm',
        ),
      );
    }
  });

  it('leaves no hook object after uninstall', async () => {
    expectSuccess(
      await run(helmBinary(major), ['uninstall', release, '-n', namespace, '--timeout', '3m'], 240_000),
    );
    expect(await hookObjects(namespace)).toBe('');
  });
});

describe('a NotReady node', () => {
  it('gets no Job; the install succeeds within a minute and NOTES names the node', async () => {
    await downNode(join(dir, 'cluster'), 'node-3');
    const started = Date.now();
    const install = expectSuccess(
      await run(
        helmBinary('v4'),
        ['install', 'down', chartDir, '-n', 'hi-down', '--create-namespace', ...valuesArgs()],
        120_000,
      ),
    );
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(install.stdout).toContain('NOT READY, no images imported: node-3.');
    const jobs = expectSuccess(
      await kubectl(['get', 'jobs', '-n', 'hi-down', '-l', SELECTOR, '-o', 'name']),
    ).stdout;
    expect(jobs.trim().split('\n').sort()).toEqual([
      'job.batch/down-airlock-demo-image-import-node-1',
      'job.batch/down-airlock-demo-image-import-node-2',
    ]);
  });
});
