import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Container, helmBinaries, importJobsOf, installDryRun, podSpecOf } from './chart-render.ts';
import { type FakeKubeApi, type FakeNode, startFakeKubeApi } from './fake-kube-api.ts';

const LOGS_BY_SELECTOR =
  'kubectl logs -n shop -l app.kubernetes.io/instance=demo,app.kubernetes.io/component=image-import --prefix --tail=-1';
const ONE_NODE_WARNING = 'WARNING: images are imported on ONE node only.';
const PAUSE = 'registry.k8s.io/pause:3.10';
const MIB = 1024 * 1024;

// kubelet reports every image with all its names; a pause image is on every node that runs pods.
const kubeadmImages = [
  {
    names: [`registry.k8s.io/kube-proxy@sha256:${'a'.repeat(64)}`, 'registry.k8s.io/kube-proxy:v1.30.0'],
    sizeBytes: 29 * MIB,
  },
  { names: [`registry.k8s.io/pause@sha256:${'b'.repeat(64)}`, PAUSE], sizeBytes: 320_000 },
  { names: ['docker.io/library/busybox:1.36'], sizeBytes: 2 * MIB },
];

const NODES: FakeNode[] = [
  { name: 'node-b', labels: { 'airlock.test/offline': 'true' }, images: kubeadmImages },
  { name: 'node-a', labels: { 'airlock.test/offline': 'true' }, images: kubeadmImages },
  {
    name: 'control-plane',
    labels: { 'node-role.kubernetes.io/control-plane': '' },
    images: [
      { names: ['registry.k8s.io/etcd:3.5.15-0'], sizeBytes: 56 * MIB },
      { names: ['registry.k8s.io/coredns/coredns:v1.11.1'], sizeBytes: 18 * MIB },
      { names: [`registry.k8s.io/kube-scheduler@sha256:${'c'.repeat(64)}`], sizeBytes: 17 * MIB },
    ],
  },
  {
    name: 'k3s-1',
    labels: { flavour: 'k3s' },
    images: [{ names: ['docker.io/rancher/mirrored-pause:3.6'], sizeBytes: 301_000 }],
    nodeInfo: { containerRuntimeVersion: 'containerd://1.7.23-k3s2', kubeletVersion: 'v1.31.4+k3s1' },
  },
  {
    name: 'rke2-1',
    labels: { flavour: 'rke2' },
    images: [{ names: ['docker.io/rancher/mirrored-pause:3.6'], sizeBytes: 301_000 }],
    nodeInfo: { containerRuntimeVersion: 'containerd://1.7.23-k3s2', kubeletVersion: 'v1.31.4+rke2r1' },
  },
  {
    name: 'k0s-1',
    labels: { flavour: 'k0s' },
    images: kubeadmImages,
    nodeInfo: { containerRuntimeVersion: 'containerd://1.7.24', kubeletVersion: 'v1.31.3+k0s' },
  },
  {
    name: 'docker-1',
    labels: { flavour: 'docker' },
    images: kubeadmImages,
    nodeInfo: { containerRuntimeVersion: 'docker://24.0.7' },
  },
  {
    name: 'arm-1',
    labels: { flavour: 'arm' },
    images: kubeadmImages,
    nodeInfo: { architecture: 'arm64' },
  },
  { name: 'down-1', labels: { flavour: 'down' }, images: kubeadmImages, ready: false },
];

const importerOf = (job: { spec?: unknown } & Parameters<typeof podSpecOf>[0]): Container => {
  const container = podSpecOf(job)?.containers[0];
  if (!container) throw new Error(`${job.metadata.name} has no container`);
  return container;
};

// NOTES only exist in an install; `helm install --dry-run` prints them and, in server mode, lets `lookup`
// read nodes. The fake API answers both Helm majors the same way.
describe.each(helmBinaries())('install notes and node lookup with $name', ({ path: helm }) => {
  let api: FakeKubeApi;

  beforeAll(async () => {
    api = await startFakeKubeApi({ nodes: NODES });
  });
  afterAll(async () => {
    await api.close();
  });

  const install = (imagePull: object) =>
    installDryRun(helm, {
      kubeconfig: api.kubeconfig,
      mode: 'server',
      values: { imagePull: { enabled: true, ...imagePull } },
    });
  const jobsOf = (result: Awaited<ReturnType<typeof installDryRun>>) => importJobsOf(result.hooks);
  const nodeNamesOf = (result: Awaited<ReturnType<typeof installDryRun>>) =>
    jobsOf(result).map((job) => podSpecOf(job)?.nodeName);
  const onlyImporter = async (nodeSelector: Record<string, string>, imagePull: object = {}) => {
    const jobs = jobsOf(await install({ nodeSelector, ...imagePull }));
    expect(jobs).toHaveLength(1);
    return importerOf(jobs[0]!);
  };
  const envOf = (container: Container) =>
    Object.fromEntries((container.env ?? []).map((variable) => [variable.name, variable.value]));

  it('imports on every Ready node the API lists, and names the NotReady ones in NOTES', async () => {
    const result = await install({});
    expect(nodeNamesOf(result)).toEqual([
      'arm-1',
      'control-plane',
      'docker-1',
      'k0s-1',
      'k3s-1',
      'node-a',
      'node-b',
      'rke2-1',
    ]);
    expect(result.notes).toContain('NOT READY, no images imported: down-1.');
    expect(result.notes).not.toContain('WARNING');
    expect(result.notes).toContain(`${LOGS_BY_SELECTOR} --max-log-requests=8`);
    // Helm records hooks in its own order; the Jobs are one List among the cleanup hook's objects.
    expect(result.hookDocuments.map((document) => document.kind).sort()).toEqual([
      'Job',
      'List',
      'Role',
      'RoleBinding',
      'ServiceAccount',
    ]);
  });

  it('runs each node in its pause image, never pulled', async () => {
    const container = await onlyImporter({ 'airlock.test/offline': 'true' }, { nodes: ['node-a'] });
    expect(container.image).toBe(PAUSE);
    expect(container.imagePullPolicy).toBe('Never');
    expect((await onlyImporter({ flavour: 'k3s' })).image).toBe('docker.io/rancher/mirrored-pause:3.6');
  });

  it("falls back to the node's smallest image, by a digest name when it has no tag", async () => {
    // No pause image there: the keeper, which must run on nodes that join later, is left out.
    const result = await install({ nodes: ['control-plane'], keeper: { enabled: false } });
    expect(importerOf(jobsOf(result)[0]!).image).toBe(
      `registry.k8s.io/kube-scheduler@sha256:${'c'.repeat(64)}`,
    );
    const named = await install({
      nodes: ['control-plane'],
      importer: { hostImage: 'example.org/tiny:1' },
      keeper: { enabled: false },
    });
    expect(importerOf(jobsOf(named)[0]!).image).toBe('example.org/tiny:1');
  });

  it.each([
    ['a kubeadm node', { 'airlock.test/offline': 'true' }, 'containerd', '/run/containerd/containerd.sock'],
    ['a k3s node', { flavour: 'k3s' }, 'containerd', '/run/k3s/containerd/containerd.sock'],
    ['an RKE2 node', { flavour: 'rke2' }, 'containerd', '/run/k3s/containerd/containerd.sock'],
    ['a k0s node', { flavour: 'k0s' }, 'containerd', '/run/k0s/containerd.sock'],
    ['a Docker node', { flavour: 'docker' }, 'docker', '/var/run/docker.sock'],
  ])('finds the runtime and its socket of %s', async (_case, nodeSelector, runtime, socket) => {
    const jobs = jobsOf(await install({ nodeSelector }));
    const container = importerOf(jobs.at(-1)!);
    const env = envOf(container);
    expect(env.AIRLOCK_RUNTIME).toBe(runtime);
    expect(runtime === 'docker' ? env.AIRLOCK_DOCKER_HOST : env.AIRLOCK_CONTAINERD_ADDRESS).toBe(
      runtime === 'docker' ? `unix://${socket}` : socket,
    );
    expect(podSpecOf(jobs.at(-1)!)?.volumes).toContainEqual({
      name: 'runtime-socket',
      hostPath: { path: socket, type: 'Socket' },
    });
  });

  it('lets explicit runtime values win over what a node reports', async () => {
    const env = envOf(
      await onlyImporter({ flavour: 'k3s' }, { containerd: { socket: '/srv/containerd.sock' } }),
    );
    expect(env.AIRLOCK_CONTAINERD_ADDRESS).toBe('/srv/containerd.sock');
    const docker = envOf(await onlyImporter({ flavour: 'k3s' }, { runtime: 'docker' }));
    expect(docker.AIRLOCK_RUNTIME).toBe('docker');
  });

  it("starts the runtime of the node's architecture", async () => {
    expect((await onlyImporter({ flavour: 'arm' })).command?.[0]).toBe(
      '/images/importer/linux-arm64/lib/ld-linux-aarch64.so.1',
    );
  });

  it('says where each node imports, and where the archives are, in NOTES', async () => {
    const result = await install({
      nodeSelector: { 'airlock.test/offline': 'true' },
      imagesPath: '/srv/images',
    });
    expect(result.notes).toContain('archives in /srv/images on each node');
    expect(result.notes).toContain(
      `node-a: containerd at /run/containerd/containerd.sock, runs in ${PAUSE} (amd64)`,
    );
    expect(result.notes).not.toContain('/opt/');
    expect(result.notes).not.toContain('<chart>');
  });

  it('imports only on listed nodes whose labels match nodeSelector', async () => {
    const result = await install({ nodeSelector: { 'airlock.test/offline': 'true' } });
    expect(nodeNamesOf(result)).toEqual(['node-a', 'node-b']);
    expect(result.notes).toContain(LOGS_BY_SELECTOR);
    expect(result.notes).toContain('kubectl logs -n shop job/demo-airlock-demo-image-import-node-a');
    expect(result.notes).toContain('kubectl logs -n shop job/demo-airlock-demo-image-import-node-b');
    expect(result.notes).not.toContain('control-plane');
    expect(result.notes).not.toContain('NOT READY');
  });

  it('prefers imagePull.nodes over the nodes the API lists, and leaves out a named node that is NotReady', async () => {
    const result = await install({ nodes: ['node-b', 'down-1'] });
    expect(nodeNamesOf(result)).toEqual(['node-b']);
    expect(result.notes).not.toContain(ONE_NODE_WARNING);
    expect(result.notes).toContain('NOT READY, no images imported: down-1.');
  });

  it('renders no Job at all when every node is NotReady, and says so', async () => {
    const result = await install({ nodes: ['down-1'] });
    expect(result.hooks).toEqual([]);
    expect(result.notes).toContain('NOT READY, no images imported: down-1.');
  });

  it('falls back to one Job and warns when no listed node matches nodeSelector', async () => {
    const result = await install({
      nodeSelector: { 'airlock.test/offline': 'yes' },
      importer: { hostImage: PAUSE },
    });
    expect(nodeNamesOf(result)).toEqual([undefined]);
    expect(result.notes).toContain(ONE_NODE_WARNING);
  });

  it('warns in NOTES that only one node gets the images, on containerd, when no node is known', async () => {
    const result = await installDryRun(helm, {
      kubeconfig: api.kubeconfig,
      mode: 'client',
      values: { imagePull: { enabled: true, importer: { hostImage: PAUSE } } },
    });
    expect(nodeNamesOf(result)).toEqual([undefined]);
    expect(result.notes).toContain(ONE_NODE_WARNING);
    expect(result.notes).toContain(
      'No node could be looked up: containerd at /run/containerd/containerd.sock is assumed (imagePull.runtime auto falls back to containerd).',
    );
    expect(result.notes).toContain(
      "helm upgrade demo ./airlock-demo -n shop --reuse-values --set 'imagePull.nodes={node-a,node-b}'",
    );
    expect(result.notes).toContain('kubectl logs -n shop job/demo-airlock-demo-image-import');
  });

  it('adds --max-log-requests when more nodes than kubectl follows by default', async () => {
    const nodes = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'];
    const result = await installDryRun(helm, {
      kubeconfig: api.kubeconfig,
      mode: 'client',
      values: { imagePull: { enabled: true, nodes, importer: { hostImage: PAUSE } } },
    });
    expect(result.notes).toContain(`${LOGS_BY_SELECTOR} --max-log-requests=6`);
  });

  it('stops the install, naming the missing permission, when nodes may not be read', async () => {
    const forbidden = await startFakeKubeApi({ nodes: [], nodeListForbidden: true });
    try {
      const listing = installDryRun(helm, {
        kubeconfig: forbidden.kubeconfig,
        mode: 'server',
        values: { imagePull: { enabled: true } },
      });
      await expect(listing).rejects.toMatchObject({ stderr: expect.stringContaining('nodes is forbidden') });
      // Named nodes with the host image and runtime given need no node read at all.
      const named = await installDryRun(helm, {
        kubeconfig: forbidden.kubeconfig,
        mode: 'server',
        values: {
          imagePull: {
            enabled: true,
            nodes: ['node-a'],
            runtime: 'containerd',
            importer: { hostImage: PAUSE },
          },
        },
      });
      expect(nodeNamesOf(named)).toEqual(['node-a']);
    } finally {
      await forbidden.close();
    }
  });

  it('tells how to watch the pods and how to enable the hook when it is off', async () => {
    const result = await installDryRun(helm, { kubeconfig: api.kubeconfig, mode: 'server' });
    expect(result.hooks).toEqual([]);
    expect(result.notes).toContain('kubectl get pods -n shop -l app.kubernetes.io/instance=demo');
    expect(result.notes).toContain('Copy the image archives to /opt/airlock-demo/images on every node');
    expect(result.notes).toContain(
      'helm upgrade demo ./airlock-demo -n shop --reuse-values --set imagePull.enabled=true',
    );
    expect(result.notes).not.toContain('image-import');
  });
});
