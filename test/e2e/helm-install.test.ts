// `helm install` for real, Helm 3 and 4, of the demo chart in bundle mode on the cluster stand-in: every node
// imports through its own containerd, the hook's Jobs run at once, a NotReady node is left out and named, and
// uninstall leaves nothing of the hook.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ClusterStatus, downNode, stopCluster } from '../../rig/cluster/index.ts';
import { imageStatus } from '../../rig/cri.ts';
import { ociImage, pushImage } from '../../rig/factory/index.ts';
import { writeImagesDir } from '../../rig/images-dir.ts';
import { chartDir } from '../chart/chart-render.ts';
import type { CommandResult } from '../cluster/helpers.ts';
import { type AppImages, copyToNodes as copyImagesToNodes, startAppStandIn } from './images-dir.ts';

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
  ({ dir, apps, imagesDir, status, run, kubectl } = await startAppStandIn(rig, 'hi', 3));
  await copyToNodes(imagesDir);
}, 900_000);

afterAll(async () => {
  if (status) await stopCluster(join(dir, 'cluster'));
});

const copyToNodes = (source: string): Promise<void> => copyImagesToNodes(status, NODE_IMAGES, source);

const expectImagesOn = async (nodes: ClusterStatus['nodes'], references: readonly string[]) => {
  for (const node of nodes) {
    for (const reference of references) {
      expect((await imageStatus(node.containerd, reference)).found, `${reference} on ${node.name}`).toBe(
        true,
      );
    }
  }
};

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

  it('an upgrade that adds an image puts it on every node', async () => {
    const image = await ociImage({ name: `hi-${major}-sidecar` });
    const repository = `hi/demo-metrics-${major}`;
    await pushImage(image, { registry: rig.registry.host, repository, tag: '2.0.0' });
    const reference = `${rig.registry.host}/${repository}:2.0.0`;
    const upgraded = join(dir, `export-${major}`);
    await mkdir(upgraded);
    await writeImagesDir(upgraded, [...apps.references, reference]);
    await copyToNodes(upgraded);
    const metrics = { registry: rig.registry.host, repository, tag: '2.0.0' };
    expectSuccess(
      await run(
        helmBinary(major),
        [
          'upgrade',
          release,
          chartDir,
          '-n',
          namespace,
          '--timeout',
          '5m',
          ...valuesArgs(['--set-json', `worker.metrics.image=${JSON.stringify(metrics)}`]),
        ],
        360_000,
      ),
    );
    await expectImagesOn(
      status.nodes.filter((node) => node.ready),
      [reference],
    );
    await copyToNodes(imagesDir);
  }, 480_000);

  it('leaves no hook object after uninstall', async () => {
    expectSuccess(
      await run(helmBinary(major), ['uninstall', release, '-n', namespace, '--timeout', '3m'], 240_000),
    );
    expect(await hookObjects(namespace)).toBe('');
  });
});

describe('a NotReady node, and failurePolicy fail', () => {
  beforeAll(async () => {
    status = await downNode(join(dir, 'cluster'), 'node-3');
  });

  it.each(['v3', 'v4'] as const)(
    'Helm %s: node-3 gets no Job, the install succeeds within a minute, NOTES names it, the others have every image',
    async (major) => {
      const namespace = `down-${major}`;
      const started = Date.now();
      const install = expectSuccess(
        await run(
          helmBinary(major),
          ['install', namespace, chartDir, '-n', namespace, '--create-namespace', ...valuesArgs()],
          120_000,
        ),
      );
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(install.stdout).toContain('NOT READY, no images imported: node-3.');
      const jobs = expectSuccess(
        await kubectl(['get', 'jobs', '-n', namespace, '-l', SELECTOR, '-o', 'name']),
      ).stdout;
      expect(jobs.trim().split('\n').sort()).toEqual([
        `job.batch/${namespace}-airlock-demo-image-import-node-1`,
        `job.batch/${namespace}-airlock-demo-image-import-node-2`,
      ]);
      await expectImagesOn(
        status.nodes.filter((node) => node.name !== 'node-3'),
        apps.references,
      );
    },
  );

  it.each(['v3', 'v4'] as const)(
    'Helm %s: with fail, a node without the images fails the install, named',
    async (major) => {
      const node2 = status.nodes.find((node) => node.name === 'node-2')!;
      await rm(join(node2.root, NODE_IMAGES), { recursive: true, force: true });
      const namespace = `fail-${major}`;
      const install = await run(
        helmBinary(major),
        [
          'install',
          namespace,
          chartDir,
          '-n',
          namespace,
          '--create-namespace',
          '--timeout',
          '3m',
          ...valuesArgs(['--set', 'imagePull.failurePolicy=fail']),
        ],
        240_000,
      );
      expect(install.exitCode, install.stdout).not.toBe(0);
      expect(install.stderr).toMatch(/failed pre-install/);
      expect(install.stderr).toContain(`${namespace}-airlock-demo-image-import-node-2`);
      expect(install.stderr).not.toContain('image-import-node-1');
    },
  );
});
