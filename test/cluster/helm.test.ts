import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { clusterStatus, startCluster, stopCluster } from '../../rig/cluster/index.ts';
import { buildPauseImage, importBuiltImage } from '../../rig/pause-image.ts';
import { makeRigDir } from '../../rig/workdir.ts';
import { against, type CommandResult, kubectlPath } from './helpers.ts';

const rig = inject('rig');
const IMAGE = 'localhost/test/busybox:1';

const CHART = {
  'Chart.yaml': 'apiVersion: v2\nname: app\nversion: 0.1.0\n',
  'values.yaml': 'message: one\n',
  'templates/config.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  message: {{ .Values.message | quote }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-web
spec:
  selector: { app: {{ .Release.Name }}-web }
  ports: [{ port: 80, targetPort: 8080 }]
`,
  'templates/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: 2
  selector:
    matchLabels: { app: {{ .Release.Name }}-web }
  template:
    metadata:
      labels: { app: {{ .Release.Name }}-web }
    spec:
      containers:
        - name: web
          image: ${IMAGE}
          imagePullPolicy: IfNotPresent
          command: ["/bin/busybox", "sh", "-c", "exec /bin/busybox sleep 3600"]
`,
  'templates/hook.yaml': `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-setup
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: setup
          image: ${IMAGE}
          imagePullPolicy: IfNotPresent
          command: ["/bin/busybox", "echo", "setup {{ .Values.message }}"]
`,
};

let dir: string;
let chart: string;
let run: (binary: string, args: string[]) => Promise<CommandResult>;
let kubectl: (args: string[]) => Promise<CommandResult>;

beforeAll(async () => {
  dir = await makeRigDir('clh-');
  const status = await startCluster({ dir, nodes: 2 });
  const image = await buildPauseImage();
  for (const node of status.nodes) {
    // Every node's containerd runs overlayfs or native like the rig's; the CRI plugin unpacks for that one.
    await importBuiltImage(
      { address: node.containerd, snapshotter: rig.containerd.snapshotter },
      image,
      IMAGE,
    );
  }
  chart = join(dir, 'chart');
  for (const [path, text] of Object.entries(CHART)) {
    await mkdir(join(chart, path, '..'), { recursive: true });
    await writeFile(join(chart, path), text);
  }
  run = against(status.kubeconfig, join(dir, 'home'));
  const kubectlBinary = await kubectlPath();
  kubectl = (args) => run(kubectlBinary, args);
});

afterAll(async () => {
  if (!dir) return;
  await stopCluster(dir);
  await rm(dir, { recursive: true, force: true });
});

const expectSuccess = (result: CommandResult): CommandResult => {
  expect(result.exitCode, `${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
};

describe.each(['v3', 'v4'] as const)('Helm %s against the stand-in', (major) => {
  const release = `app-${major}`;
  const helm = (args: string[]) => run(rig.helm[major].path, args);

  it('installs with --wait: hook Job first, then the Deployment Ready; status and get manifest show it', async () => {
    expectSuccess(await helm(['install', release, chart, '--wait', '--timeout', '180s']));
    expect((await kubectl(['logs', `job/${release}-setup`])).stdout).toBe('setup one');
    const deployment = JSON.parse(
      expectSuccess(await kubectl(['get', 'deploy', `${release}-web`, '-o', 'json'])).stdout,
    );
    expect(deployment.status).toMatchObject({
      replicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
      updatedReplicas: 2,
    });
    expect(expectSuccess(await helm(['status', release])).stdout).toContain('STATUS: deployed');
    const manifest = expectSuccess(await helm(['get', 'manifest', release])).stdout;
    expect(manifest).toContain(`name: ${release}-web`);
    expect(manifest).toContain('kind: Deployment');
  });

  it('upgrades (the hook runs again) and rolls back to the first revision', async () => {
    expectSuccess(
      await helm(['upgrade', release, chart, '--set', 'message=two', '--wait', '--timeout', '180s']),
    );
    expect((await kubectl(['logs', `job/${release}-setup`])).stdout).toBe('setup two');
    const message = () =>
      kubectl(['get', 'configmap', `${release}-config`, '-o', 'jsonpath={.data.message}']);
    expect((await message()).stdout).toBe('two');
    expectSuccess(await helm(['rollback', release, '1', '--wait', '--timeout', '180s']));
    expect((await message()).stdout).toBe('one');
    const history = JSON.parse(expectSuccess(await helm(['history', release, '-o', 'json'])).stdout);
    expect(history.map((entry: { status: string }) => entry.status)).toEqual([
      'superseded',
      'superseded',
      'deployed',
    ]);
  });

  it('uninstalls: the release objects and its storage Secrets are gone', async () => {
    expectSuccess(await helm(['uninstall', release, '--wait', '--timeout', '120s']));
    for (const object of [`deploy/${release}-web`, `service/${release}-web`, `configmap/${release}-config`]) {
      const result = await kubectl(['get', object]);
      expect(result.stderr).toContain('NotFound');
    }
    const secrets = await kubectl(['get', 'secrets', '-l', `owner=helm,name=${release}`, '-o', 'name']);
    expect(secrets.stdout).toBe('');
    expect((await clusterStatus(dir)).nodes.every((node) => node.ready)).toBe(true);
  });
});
