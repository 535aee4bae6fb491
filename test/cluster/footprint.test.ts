import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { clusterFootprint } from '../../rig/cluster/footprint.ts';
import { startCluster, stopCluster } from '../../rig/cluster/index.ts';
import { makeRigDir } from '../../rig/workdir.ts';
import { against, kubectlPath } from './helpers.ts';

const DAEMON_SET = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: idle
spec:
  selector: { matchLabels: { app: idle } }
  template:
    metadata: { labels: { app: idle } }
    spec:
      containers:
        - name: idle
          image: localhost/airlock/pause:busybox
          command: ["/bin/busybox", "sleep", "3600"]
`;

let dir: string;

beforeAll(async () => {
  dir = await makeRigDir('clf-');
});

afterAll(async () => {
  if (!dir) return;
  await stopCluster(dir);
  await rm(dir, { recursive: true, force: true });
});

it('four nodes, each running a DaemonSet pod, keep at most 300 MB resident (daemon, containerds and shims)', async () => {
  const started = Date.now();
  const status = await startCluster({ dir, nodes: 4 });
  // The 10 s start target is met on an idle machine only; the figure is logged, not asserted, as the
  // suite shares two cores with other work (docs/testing.md keeps the measurements).
  process.stdout.write(`cluster up with 4 nodes in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  const kubectl = against(status.kubeconfig, join(dir, 'home'));
  const binary = await kubectlPath();
  await writeFile(join(dir, 'ds.yaml'), DAEMON_SET);
  expect((await kubectl(binary, ['apply', '-f', join(dir, 'ds.yaml')])).exitCode).toBe(0);
  const rollout = await kubectl(binary, ['rollout', 'status', 'daemonset/idle', '--timeout=120s']);
  expect(rollout.exitCode, rollout.stderr).toBe(0);
  const nodes = await kubectl(binary, [
    'get',
    'pods',
    '-l',
    'app=idle',
    '-o',
    'jsonpath={.items[*].spec.nodeName}',
  ]);
  expect(nodes.stdout.split(' ').sort()).toEqual(['node-1', 'node-2', 'node-3', 'node-4']);

  const footprint = await clusterFootprint(dir);
  process.stdout.write(`cluster footprint with 4 nodes: ${JSON.stringify(footprint)}\n`);
  // One daemon, four containerds, four shims.
  expect(footprint.processes).toBe(9);
  // The executables' shared pages once each: the plain sum of RSS counts containerd's text four times.
  expect(footprint.residentBytes).toBeLessThanOrEqual(300 * 1024 * 1024);
});
