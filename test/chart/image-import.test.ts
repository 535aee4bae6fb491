import { describe, expect, it } from 'vitest';
import {
  type Container,
  helmBinaries,
  importJobsOf,
  type KubernetesObject,
  ofKind,
  type PodSpec,
  podLabelsOf,
  podSpecOf,
  renderChart,
  renderChartError,
  renderDocuments,
} from './chart-render.ts';

const CONTAINERD_SOCKET = '/run/containerd/containerd.sock';
const PAUSE = 'registry.k8s.io/pause:3.10';
const WORKER_DIGEST = 'sha256:1844246b5e2e6d6f482e588869927d1e9d46c97d680e95fe6eca756f4cd021b9';
// What the chart's Deployments render with default values, in template order (init before main containers).
const RELEASE_IMAGES = [
  'airlock/demo-init:1.0.0',
  'airlock/demo-web:1.0.0',
  `airlock/demo-worker@${WORKER_DIGEST}`,
  'airlock/demo-metrics:1.0.0',
].join('\n');

const hookJobs = async (helm: string, imagePull: object, values: object = {}): Promise<KubernetesObject[]> =>
  importJobsOf(
    await renderChart(helm, {
      ...values,
      imagePull: { enabled: true, importer: { hostImage: PAUSE }, ...imagePull },
    }),
  );

const onlyPodSpec = (jobs: readonly KubernetesObject[]): PodSpec => {
  expect(jobs).toHaveLength(1);
  const spec = podSpecOf(jobs[0]!);
  if (!spec) throw new Error('the Job has no pod template');
  return spec;
};

const importer = (spec: PodSpec): Container => {
  expect(spec.containers.map((container) => container.name)).toEqual(['importer']);
  return spec.containers[0]!;
};

const envOf = (spec: PodSpec) =>
  Object.fromEntries((importer(spec).env ?? []).map((variable) => [variable.name, variable.value]));

describe.each(helmBinaries())('image-import hook with $name', ({ path: helm }) => {
  it('renders one Job per named node, each bound to its node', async () => {
    const jobs = await hookJobs(helm, { nodes: ['node-a', 'node-b', 'node-c'] });
    expect(jobs.map((job) => job.metadata.name)).toEqual([
      'demo-airlock-demo-image-import-node-a',
      'demo-airlock-demo-image-import-node-b',
      'demo-airlock-demo-image-import-node-c',
    ]);
    expect(jobs.map((job) => podSpecOf(job)?.nodeName)).toEqual(['node-a', 'node-b', 'node-c']);
    expect(jobs.map((job) => job.metadata.labels?.['airlock.io/node'])).toEqual([
      'node-a',
      'node-b',
      'node-c',
    ]);
    expect(jobs.map((job) => podLabelsOf(job)['airlock.io/node'])).toEqual(['node-a', 'node-b', 'node-c']);
    expect(jobs.map((job) => podLabelsOf(job)['app.kubernetes.io/component'])).toEqual([
      'image-import',
      'image-import',
      'image-import',
    ]);
  });

  it('puts every Job into one hook document, a List, so Helm creates and waits for them together', async () => {
    const documents = await renderDocuments(helm, {
      imagePull: { enabled: true, importer: { hostImage: PAUSE }, nodes: ['node-a', 'node-b'] },
    });
    const hooks = documents.filter((document) =>
      document.metadata.annotations?.['helm.sh/hook']?.includes('pre-install'),
    );
    expect(hooks.map((hook) => [hook.apiVersion, hook.kind, hook.metadata.name])).toEqual([
      ['v1', 'List', 'demo-airlock-demo-image-import'],
    ]);
    expect(hooks[0]?.metadata.annotations).toEqual({
      'helm.sh/hook': 'pre-install,pre-upgrade',
      'helm.sh/hook-weight': '0',
      'helm.sh/hook-delete-policy': 'before-hook-creation',
    });
    const items = (hooks[0] as KubernetesObject & { items: KubernetesObject[] }).items;
    expect(items.map((item) => [item.kind, item.metadata.name])).toEqual([
      ['Job', 'demo-airlock-demo-image-import-node-a'],
      ['Job', 'demo-airlock-demo-image-import-node-b'],
    ]);
    for (const item of items) expect(item.metadata.annotations).toBeUndefined();
  });

  it('deletes the import Jobs and their pods on uninstall with a post-delete hook that removes itself', async () => {
    const documents = await renderDocuments(helm, {
      imagePull: { enabled: true, importer: { hostImage: PAUSE }, nodes: ['node-a', 'node-b'] },
    });
    const cleanup = documents.filter(
      (document) => document.metadata.annotations?.['helm.sh/hook'] === 'post-delete',
    );
    expect(
      cleanup.map((object) => [object.kind, object.metadata.annotations?.['helm.sh/hook-weight']]),
    ).toEqual([
      ['ServiceAccount', '-5'],
      ['Role', '-5'],
      ['RoleBinding', '-5'],
      ['Job', '0'],
    ]);
    for (const object of cleanup) {
      expect(object.metadata.annotations?.['helm.sh/hook-delete-policy']).toBe(
        'before-hook-creation,hook-succeeded',
      );
      expect(object.metadata.labels?.['app.kubernetes.io/component']).toBe('image-import-cleanup');
    }
    expect(ofKind(cleanup, 'Role')[0]).toMatchObject({
      rules: [
        { apiGroups: ['batch'], resources: ['jobs'], verbs: ['deletecollection'] },
        { apiGroups: [''], resources: ['pods'], verbs: ['deletecollection'] },
      ],
    });
    const spec = podSpecOf(ofKind(cleanup, 'Job')[0]!);
    const container = spec?.containers[0];
    expect(container?.image).toBe(PAUSE);
    expect(container?.imagePullPolicy).toBe('Never');
    expect(container?.command?.slice(0, 5)).toEqual([
      '/images/importer/linux-amd64/lib/ld-linux-x86-64.so.2',
      '--library-path',
      '/images/importer/linux-amd64/lib',
      '/images/importer/linux-amd64/bin/node',
      '-e',
    ]);
    expect(container?.env).toContainEqual({
      name: 'AIRLOCK_SELECTOR',
      value: 'app.kubernetes.io/instance=demo,app.kubernetes.io/component=image-import',
    });
    expect(container?.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(spec?.affinity).toEqual({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            {
              matchExpressions: [
                { key: 'kubernetes.io/hostname', operator: 'In', values: ['node-a', 'node-b'] },
              ],
            },
          ],
        },
      },
    });
    const imageMode = await renderDocuments(helm, {
      imagePull: { enabled: true, importer: { mode: 'image' }, nodes: ['node-a'] },
    });
    expect(
      imageMode.filter((object) => object.metadata.annotations?.['helm.sh/hook'] === 'post-delete'),
    ).toEqual([]);
  });

  it('keeps finished Jobs for ttlSecondsAfterFinished, for their logs, and bounds their runtime', async () => {
    const [job] = await hookJobs(helm, { nodes: ['node-a'] });
    expect(job?.spec).toMatchObject({
      backoffLimit: 1,
      activeDeadlineSeconds: 600,
      ttlSecondsAfterFinished: 86400,
    });
    const [short] = await hookJobs(helm, { nodes: ['node-a'], ttlSecondsAfterFinished: 600 });
    expect(short?.spec).toMatchObject({ ttlSecondsAfterFinished: 600 });
  });

  it('runs the bundle from the images directory through its loader, inside the host image, never pulled', async () => {
    const container = importer(onlyPodSpec(await hookJobs(helm, { nodes: ['node-a'] })));
    expect(container.image).toBe(PAUSE);
    expect(container.imagePullPolicy).toBe('Never');
    expect(container.workingDir).toBe('/');
    expect(container.command).toEqual([
      '/images/importer/linux-amd64/lib/ld-linux-x86-64.so.2',
      '--library-path',
      '/images/importer/linux-amd64/lib',
      '/images/importer/linux-amd64/bin/node',
      '/images/importer/linux-amd64/importer.mjs',
    ]);
    expect(container).not.toHaveProperty('args');
  });

  it('starts the arm64 runtime through the aarch64 loader when told the architecture', async () => {
    const container = importer(
      onlyPodSpec(await hookJobs(helm, { nodes: ['node-a'], importer: { hostImage: PAUSE, arch: 'arm64' } })),
    );
    expect(container.command?.slice(0, 3)).toEqual([
      '/images/importer/linux-arm64/lib/ld-linux-aarch64.so.1',
      '--library-path',
      '/images/importer/linux-arm64/lib',
    ]);
  });

  it('runs the importer image as before in image mode', async () => {
    const container = importer(
      onlyPodSpec(await hookJobs(helm, { nodes: ['node-a'], importer: { mode: 'image' } })),
    );
    expect(container.image).toBe('airlock/importer:0.1.0');
    expect(container.imagePullPolicy).toBe('IfNotPresent');
    expect(container).not.toHaveProperty('command');
    const mirrored = importer(
      onlyPodSpec(
        await hookJobs(
          helm,
          {
            nodes: ['node-a'],
            importer: { mode: 'image', image: { registry: 'ghcr.io', digest: `sha256:${'c'.repeat(64)}` } },
          },
          { global: { imageRegistry: 'mirror.internal:5000' } },
        ),
      ),
    );
    expect(mirrored.image).toBe(`mirror.internal:5000/airlock/importer@sha256:${'c'.repeat(64)}`);
  });

  it('refuses to render without a host image when no node can be looked up, saying how to find one', async () => {
    for (const imagePull of [{ enabled: true }, { enabled: true, nodes: ['node-a'] }]) {
      const stderr = await renderChartError(helm, { imagePull });
      expect(stderr).toContain('imagePull.importer.hostImage is empty');
      expect(stderr).toContain("-o jsonpath='{.status.images[*].names}'");
    }
    const stderr = await renderChartError(helm, { imagePull: { enabled: true, nodes: ['node-a'] } });
    expect(stderr).toContain('kubectl get node node-a ');
  });

  it('renders in image mode without a host image', async () => {
    const jobs = await hookJobs(helm, { nodes: ['node-a'], importer: { mode: 'image', hostImage: '' } });
    expect(jobs).toHaveLength(1);
  });

  it('renders a single Job placed by nodeSelector when no node is known', async () => {
    const jobs = await hookJobs(helm, {
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'airgap', operator: 'Exists', effect: 'NoExecute' }],
    });
    expect(jobs.map((job) => job.metadata.name)).toEqual(['demo-airlock-demo-image-import']);
    const spec = onlyPodSpec(jobs);
    expect(spec.nodeName).toBeUndefined();
    expect(spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(spec.tolerations).toEqual([{ key: 'airgap', operator: 'Exists', effect: 'NoExecute' }]);
  });

  it('binds named nodes without a nodeSelector but keeps tolerations for NoExecute taints', async () => {
    const spec = onlyPodSpec(
      await hookJobs(helm, {
        nodes: ['node-a'],
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        tolerations: [{ operator: 'Exists' }],
      }),
    );
    expect(spec.nodeName).toBe('node-a');
    expect(spec.nodeSelector).toBeUndefined();
    expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
  });

  it('keeps Job names within 63 characters and distinct for long and dotted node names', async () => {
    const long = `worker-${'x'.repeat(80)}`;
    const nodes = ['ip-10-0-0-1.ec2.internal', 'ip-10-0-0-1-ec2-internal', `${long}-1`, `${long}-2`];
    const jobs = await hookJobs(helm, { nodes });
    const names = jobs.map((job) => job.metadata.name);
    expect(new Set(names).size).toBe(nodes.length);
    for (const name of names) {
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
    for (const job of jobs) {
      const label = job.metadata.labels?.['airlock.io/node'] ?? '';
      expect(label.length).toBeLessThanOrEqual(63);
      expect(podSpecOf(job)?.nodeName?.startsWith(label)).toBe(true);
    }
  });

  it('runs the importer as root with every privilege taken away, whatever user the host image names', async () => {
    const spec = onlyPodSpec(await hookJobs(helm, { nodes: ['node-a'] }));
    expect(spec).toMatchObject({
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
    });
    for (const hostAccess of ['hostNetwork', 'hostPID', 'hostIPC'])
      expect(spec).not.toHaveProperty(hostAccess);
    expect(spec.securityContext).toEqual({
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(importer(spec).securityContext).toEqual({
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsUser: 0,
      runAsNonRoot: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it('mounts only the images directory, read-only, and the containerd socket from the host', async () => {
    const spec = onlyPodSpec(await hookJobs(helm, { nodes: ['node-a'] }));
    expect(spec.volumes).toEqual([
      { name: 'images', hostPath: { path: '/opt/airlock-demo/images', type: 'DirectoryOrCreate' } },
      { name: 'runtime-socket', hostPath: { path: CONTAINERD_SOCKET, type: 'Socket' } },
      { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
    ]);
    expect(importer(spec).volumeMounts).toEqual([
      { name: 'images', mountPath: '/images', readOnly: true },
      { name: 'runtime-socket', mountPath: CONTAINERD_SOCKET },
      { name: 'tmp', mountPath: '/tmp' },
    ]);
  });

  it('hands the importer its settings and the release image list through the environment', async () => {
    const spec = onlyPodSpec(await hookJobs(helm, { nodes: ['node-a'] }));
    expect(importer(spec).env).toEqual([
      { name: 'AIRLOCK_DIR', value: '/images' },
      { name: 'AIRLOCK_RUNTIME', value: 'containerd' },
      { name: 'AIRLOCK_CONTAINERD_ADDRESS', value: CONTAINERD_SOCKET },
      { name: 'AIRLOCK_NAMESPACE', value: 'k8s.io' },
      { name: 'AIRLOCK_IMAGES', value: RELEASE_IMAGES },
      { name: 'AIRLOCK_STRICT', value: 'false' },
      { name: 'AIRLOCK_CONCURRENCY', value: '1' },
      { name: 'AIRLOCK_RETRIES', value: '2' },
      { name: 'AIRLOCK_TIMEOUT', value: '300' },
      { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      { name: 'NODE_OPTIONS', value: '--max-semi-space-size=1' },
    ]);
  });

  it('lists in AIRLOCK_IMAGES the images as the values render them, and never the importer', async () => {
    const spec = onlyPodSpec(
      await hookJobs(
        helm,
        { nodes: ['node-a'], importer: { mode: 'image' } },
        {
          global: { imageRegistry: 'mirror.internal:5000' },
          web: { image: { digest: `sha256:${'d'.repeat(64)}` } },
          worker: { metrics: { image: { tag: '2.0.0' } } },
        },
      ),
    );
    expect(envOf(spec).AIRLOCK_IMAGES).toBe(
      [
        'mirror.internal:5000/airlock/demo-init:1.0.0',
        `mirror.internal:5000/airlock/demo-web@sha256:${'d'.repeat(64)}`,
        `mirror.internal:5000/airlock/demo-worker@${WORKER_DIGEST}`,
        'mirror.internal:5000/airlock/demo-metrics:2.0.0',
      ].join('\n'),
    );
  });

  it('adds imagePull.extraImages to AIRLOCK_IMAGES after the pod specs, each name once', async () => {
    const spec = onlyPodSpec(
      await hookJobs(helm, {
        nodes: ['node-a'],
        extraImages: ['quay.io/example/operand:2.1', 'airlock/demo-web:1.0.0'],
      }),
    );
    expect(envOf(spec).AIRLOCK_IMAGES).toBe(`${RELEASE_IMAGES}\nquay.io/example/operand:2.1`);
  });

  it('refuses an imagePull.extraImages entry that is not one reference', async () => {
    const stderr = await renderChartError(helm, {
      imagePull: { enabled: true, nodes: ['node-a'], extraImages: ['quay.io/a:1 quay.io/b:1'] },
    });
    expect(stderr).toContain('extraImages');
  });

  it('talks to Docker through its socket alone when runtime is docker', async () => {
    const spec = onlyPodSpec(
      await hookJobs(helm, { nodes: ['node-a'], runtime: 'docker', docker: { socket: '/run/docker.sock' } }),
    );
    const env = importer(spec).env ?? [];
    expect(env).toContainEqual({ name: 'AIRLOCK_RUNTIME', value: 'docker' });
    expect(env).toContainEqual({ name: 'AIRLOCK_DOCKER_HOST', value: 'unix:///run/docker.sock' });
    expect(env.map((variable) => variable.name)).not.toContain('AIRLOCK_CONTAINERD_ADDRESS');
    expect(spec.volumes?.filter((volume) => volume.hostPath)).toEqual([
      { name: 'images', hostPath: { path: '/opt/airlock-demo/images', type: 'DirectoryOrCreate' } },
      { name: 'runtime-socket', hostPath: { path: '/run/docker.sock', type: 'Socket' } },
    ]);
  });

  it('uses the containerd socket and the images path it is given', async () => {
    const k3sSocket = '/run/k3s/containerd/containerd.sock';
    const spec = onlyPodSpec(
      await hookJobs(helm, {
        nodes: ['node-a'],
        imagesPath: '/srv/offline/images',
        containerd: { socket: k3sSocket },
      }),
    );
    expect(importer(spec).env).toContainEqual({ name: 'AIRLOCK_CONTAINERD_ADDRESS', value: k3sSocket });
    expect(spec.volumes?.filter((volume) => volume.hostPath)).toEqual([
      { name: 'images', hostPath: { path: '/srv/offline/images', type: 'DirectoryOrCreate' } },
      { name: 'runtime-socket', hostPath: { path: k3sSocket, type: 'Socket' } },
    ]);
  });

  it('turns failurePolicy fail and the tuning values into importer settings', async () => {
    const spec = onlyPodSpec(
      await hookJobs(helm, {
        nodes: ['node-a'],
        failurePolicy: 'fail',
        concurrency: 4,
        retries: 0,
        timeout: 90,
      }),
    );
    expect(envOf(spec)).toMatchObject({
      AIRLOCK_STRICT: 'true',
      AIRLOCK_CONCURRENCY: '4',
      AIRLOCK_RETRIES: '0',
      AIRLOCK_TIMEOUT: '90',
    });
  });

  it('takes resources, priority and pod annotations from values', async () => {
    const [job] = await hookJobs(helm, {
      nodes: ['node-a'],
      resources: { limits: { memory: '1Gi' }, requests: { cpu: '50m' } },
      priorityClassName: 'system-node-critical',
      podAnnotations: { 'example.com/team': 'platform' },
      backoffLimit: 3,
      activeDeadlineSeconds: 1800,
    });
    if (!job) throw new Error('no Job rendered');
    const spec = podSpecOf(job);
    expect(spec?.priorityClassName).toBe('system-node-critical');
    // Helm merges maps: the keys not given keep their defaults.
    expect(spec?.containers[0]?.resources).toEqual({
      limits: { cpu: '500m', memory: '1Gi' },
      requests: { cpu: '50m', memory: '128Mi' },
    });
    expect(job.spec).toMatchObject({
      backoffLimit: 3,
      activeDeadlineSeconds: 1800,
      template: { metadata: { annotations: { 'example.com/team': 'platform' } } },
    });
  });

  it('limits the importer to the default resources of the original design', async () => {
    const spec = onlyPodSpec(await hookJobs(helm, { nodes: ['node-a'] }));
    expect(importer(spec).resources).toEqual({
      limits: { cpu: '500m', memory: '512Mi' },
      requests: { cpu: '100m', memory: '128Mi' },
    });
  });
});
