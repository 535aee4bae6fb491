import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRigDir } from '../../rig/workdir.ts';
import { against, type CommandResult, clusterCli, kubectlPath } from './helpers.ts';

let dir: string;
let kubectl: (args: string[]) => Promise<CommandResult>;

const JOB = `apiVersion: batch/v1
kind: Job
metadata:
  name: greet
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: main
          image: localhost/airlock/pause:busybox
          imagePullPolicy: Never
          command: ["/bin/busybox", "sh", "-c", "echo hello from the job; /bin/busybox cat /data/marker"]
          volumeMounts: [{ name: data, mountPath: /data }]
      volumes:
        - name: data
          hostPath: { path: /p, type: Directory }
`;

const pinnedPod = (node: string) => `apiVersion: v1
kind: Pod
metadata:
  name: pinned
spec:
  restartPolicy: Never
  nodeSelector: { kubernetes.io/hostname: ${node} }
  containers:
    - name: main
      image: localhost/airlock/pause:busybox
      command: ["/bin/busybox", "echo", "pinned ran"]
`;

const waitFor = async <T>(probe: () => Promise<T | undefined>, timeout = 60_000): Promise<T> => {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
};

beforeAll(async () => {
  dir = await makeRigDir('cl-');
  // What a node's directory holds before it starts is what its hostPath volumes see.
  for (const node of ['node-1', 'node-2']) {
    await mkdir(join(dir, 'nodes', node, 'p'), { recursive: true });
    await writeFile(join(dir, 'nodes', node, 'p', 'marker'), `marker of ${node}\n`);
  }
  const up = await clusterCli('up', '--nodes', '2', '--dir', dir);
  expect(up.exitCode, up.stderr).toBe(0);
  const run = against(join(dir, 'kubeconfig'), join(dir, 'home'));
  const binary = await kubectlPath();
  kubectl = (args) => run(binary, args);
});

afterAll(async () => {
  if (!dir) return;
  const down = await clusterCli('down', '--dir', dir);
  expect(down.exitCode, down.stderr).toBe(0);
  await rm(dir, { recursive: true, force: true });
});

describe('npm run cluster', () => {
  it('status --json prints the kubeconfig and every node with its containerd socket and root', async () => {
    const status = await clusterCli('status', '--json', '--dir', dir);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual({
      kubeconfig: join(dir, 'kubeconfig'),
      nodes: ['node-1', 'node-2'].map((name) => ({
        name,
        ready: true,
        containerd: join(dir, 'nodes', name, 'run/containerd/containerd.sock'),
        root: join(dir, 'nodes', name),
      })),
    });
    expect(await readFile(join(dir, 'kubeconfig'), 'utf8')).toContain('server: http://127.0.0.1:');
  });

  it('kubectl get nodes shows both nodes Ready with containerd 1.6 as their runtime', async () => {
    const wide = await kubectl(['get', 'nodes', '-o', 'wide', '--no-headers']);
    expect(wide.exitCode, wide.stderr).toBe(0);
    const rows = wide.stdout.split('\n').map((line) => line.split(/\s+/));
    expect(rows.map((row) => [row[0], row[1], row.at(-1)])).toEqual([
      ['node-1', 'Ready', expect.stringMatching(/^containerd:\/\/1\.6\.\d+$/)],
      ['node-2', 'Ready', expect.stringMatching(/^containerd:\/\/1\.6\.\d+$/)],
    ]);
    const node = JSON.parse((await kubectl(['get', 'node', 'node-1', '-o', 'json'])).stdout);
    expect(node.metadata.labels).toMatchObject({
      'kubernetes.io/hostname': 'node-1',
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': node.status.nodeInfo.architecture,
    });
    expect(node.status.images).toContainEqual({
      names: expect.arrayContaining(['localhost/airlock/pause:busybox']),
      sizeBytes: expect.any(Number),
    });
  });

  it('runs a Job through CRI: kubectl wait sees it complete and kubectl logs job/NAME prints its output', async () => {
    const file = join(dir, 'job.yaml');
    await writeFile(file, JOB);
    expect((await kubectl(['apply', '-f', file])).exitCode).toBe(0);
    const wait = await kubectl(['wait', '--for=condition=complete', 'job/greet', '--timeout=90s']);
    expect(wait.stdout, wait.stderr).toBe('job.batch/greet condition met');
    const logs = await kubectl(['logs', 'job/greet']);
    expect(logs.stdout).toMatch(/^hello from the job\nmarker of node-[12]$/);
    const job = JSON.parse((await kubectl(['get', 'job', 'greet', '-o', 'json'])).stdout);
    expect(job.status).toMatchObject({ succeeded: 1, active: 0 });
    expect(job.status.conditions.map((condition: { type: string }) => condition.type)).toContain('Complete');
  });

  it('node down: the node turns NotReady and a pod pinned to it stays Pending; node add: Ready, and the pod runs', async () => {
    const down = await clusterCli('node', 'down', 'node-2', '--dir', dir);
    expect(down.exitCode, down.stderr).toBe(0);
    const statusAfterDown = JSON.parse((await clusterCli('status', '--json', '--dir', dir)).stdout);
    expect(statusAfterDown.nodes.map((node: { ready: boolean }) => node.ready)).toEqual([true, false]);
    await waitFor(async () => {
      const status = await kubectl(['get', 'node', 'node-2', '--no-headers']);
      return status.stdout.split(/\s+/)[1] === 'NotReady' ? true : undefined;
    }, 20_000);
    const file = join(dir, 'pinned.yaml');
    await writeFile(file, pinnedPod('node-2'));
    expect((await kubectl(['apply', '-f', file])).exitCode).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const pending = JSON.parse((await kubectl(['get', 'pod', 'pinned', '-o', 'json'])).stdout);
    expect(pending.status.phase).toBe('Pending');
    expect(pending.spec.nodeName).toBeUndefined();

    const add = await clusterCli('node', 'add', 'node-2', '--dir', dir);
    expect(add.exitCode, add.stderr).toBe(0);
    const wait = await kubectl([
      'wait',
      '--for=jsonpath={.status.phase}=Succeeded',
      'pod/pinned',
      '--timeout=60s',
    ]);
    expect(wait.exitCode, wait.stderr).toBe(0);
    expect((await kubectl(['logs', 'pinned'])).stdout).toBe('pinned ran');
    expect((await kubectl(['get', 'pod', 'pinned', '-o', 'jsonpath={.spec.nodeName}'])).stdout).toBe(
      'node-2',
    );
  });

  it('answers what it does not serve with a Status, never a silent success', async () => {
    const storage = await kubectl(['get', '--raw', '/apis/storage.k8s.io/v1/storageclasses']);
    expect(storage.exitCode).not.toBe(0);
    expect(storage.stderr).toContain('NotFound');
    const body = join(dir, 'eviction.json');
    await writeFile(
      body,
      JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'pinned' } }),
    );
    const eviction = await kubectl([
      'create',
      '--raw',
      '/api/v1/namespaces/default/pods/pinned/eviction',
      '-f',
      body,
    ]);
    expect(eviction.exitCode).not.toBe(0);
    expect(eviction.stderr).toMatch(/the server could not find the requested resource \(pods\/eviction/);
  });
});
