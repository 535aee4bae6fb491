import { describe, expect, it } from 'vitest';
import {
  helmBinaries,
  type KubernetesObject,
  ofKind,
  type PodSpec,
  podLabelsOf,
  podSpecOf,
  renderChart,
} from './chart-render.ts';

const HOOK = 'pre-install,pre-upgrade';
const CONTAINERD_SOCKET = '/run/containerd/containerd.sock';

const hookJobs = async (helm: string, imagePull: object): Promise<KubernetesObject[]> =>
  ofKind(await renderChart(helm, { imagePull: { enabled: true, ...imagePull } }), 'Job');

const onlyPodSpec = (jobs: readonly KubernetesObject[]): PodSpec => {
  expect(jobs).toHaveLength(1);
  const spec = podSpecOf(jobs[0]!);
  if (!spec) throw new Error('the Job has no pod template');
  return spec;
};

const importer = (spec: PodSpec) => {
  expect(spec.containers.map((container) => container.name)).toEqual(['importer']);
  return spec.containers[0]!;
};

describe.each(helmBinaries())('image-import hook with $name', ({ path: helm }) => {
  it('renders one Job per named node, each bound to its node', async () => {
    const jobs = await hookJobs(helm, { nodes: ['node-a', 'node-b', 'node-c'] });
    expect(jobs.map((job) => job.metadata.name)).toEqual([
      'demo-airlock-demo-image-import-node-a',
      'demo-airlock-demo-image-import-node-b',
      'demo-airlock-demo-image-import-node-c',
    ]);
    expect(jobs.map((job) => podSpecOf(job)?.nodeName)).toEqual(['node-a', 'node-b', 'node-c']);
    expect(jobs.map((job) => job.metadata.labels?.['airlock/node'])).toEqual(['node-a', 'node-b', 'node-c']);
    expect(jobs.map((job) => podLabelsOf(job)['app.kubernetes.io/component'])).toEqual([
      'image-import',
      'image-import',
      'image-import',
    ]);
  });

  it('marks the Jobs and their ServiceAccount as hooks, the ServiceAccount first', async () => {
    const objects = await renderChart(helm, { imagePull: { enabled: true, nodes: ['node-a', 'node-b'] } });
    const hooks = objects.filter((object) => object.metadata.annotations?.['helm.sh/hook']);
    expect(hooks.map((object) => [object.kind, object.metadata.annotations])).toEqual([
      [
        'ServiceAccount',
        {
          'helm.sh/hook': HOOK,
          'helm.sh/hook-weight': '-5',
          'helm.sh/hook-delete-policy': 'before-hook-creation',
        },
      ],
      ...['node-a', 'node-b'].map(() => [
        'Job',
        {
          'helm.sh/hook': HOOK,
          'helm.sh/hook-weight': '0',
          'helm.sh/hook-delete-policy': 'before-hook-creation',
        },
      ]),
    ]);
    const [serviceAccount] = ofKind(objects, 'ServiceAccount');
    expect(serviceAccount).toMatchObject({ automountServiceAccountToken: false });
    for (const job of ofKind(objects, 'Job')) {
      expect(podSpecOf(job)?.serviceAccountName).toBe(serviceAccount?.metadata.name);
    }
  });

  it('keeps finished Jobs for their logs and bounds their runtime', async () => {
    const [job] = await hookJobs(helm, { nodes: ['node-a'] });
    expect(job?.spec).toMatchObject({ backoffLimit: 1, activeDeadlineSeconds: 600 });
    expect(job?.spec).not.toHaveProperty('ttlSecondsAfterFinished');
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
      const label = job.metadata.labels?.['airlock/node'] ?? '';
      expect(label.length).toBeLessThanOrEqual(63);
      expect(podSpecOf(job)?.nodeName?.startsWith(label)).toBe(true);
    }
  });

  it('runs the importer as root with every privilege taken away', async () => {
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
      { name: 'images', hostPath: { path: '/opt/airlock-demo/images', type: 'Directory' } },
      { name: 'runtime-socket', hostPath: { path: CONTAINERD_SOCKET, type: 'Socket' } },
      { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
    ]);
    expect(importer(spec).volumeMounts).toEqual([
      { name: 'images', mountPath: '/images', readOnly: true },
      { name: 'runtime-socket', mountPath: CONTAINERD_SOCKET },
      { name: 'tmp', mountPath: '/tmp' },
    ]);
  });

  it('hands the importer its settings through the environment', async () => {
    const spec = onlyPodSpec(await hookJobs(helm, { nodes: ['node-a'] }));
    expect(importer(spec).env).toEqual([
      { name: 'AIRLOCK_DIR', value: '/images' },
      { name: 'AIRLOCK_RUNTIME', value: 'containerd' },
      { name: 'AIRLOCK_CONTAINERD_ADDRESS', value: CONTAINERD_SOCKET },
      { name: 'AIRLOCK_NAMESPACE', value: 'k8s.io' },
      { name: 'AIRLOCK_STRICT', value: 'false' },
      { name: 'AIRLOCK_CONCURRENCY', value: '1' },
      { name: 'AIRLOCK_RETRIES', value: '2' },
      { name: 'AIRLOCK_TIMEOUT', value: '300' },
      { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
    ]);
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
      { name: 'images', hostPath: { path: '/opt/airlock-demo/images', type: 'Directory' } },
      { name: 'runtime-socket', hostPath: { path: '/run/docker.sock', type: 'Socket' } },
    ]);
  });

  it('uses the k3s containerd socket and the images path it is given', async () => {
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
      { name: 'images', hostPath: { path: '/srv/offline/images', type: 'Directory' } },
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
    const env = importer(spec).env ?? [];
    expect(env).toContainEqual({ name: 'AIRLOCK_STRICT', value: 'true' });
    expect(env).toContainEqual({ name: 'AIRLOCK_CONCURRENCY', value: '4' });
    expect(env).toContainEqual({ name: 'AIRLOCK_RETRIES', value: '0' });
    expect(env).toContainEqual({ name: 'AIRLOCK_TIMEOUT', value: '90' });
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
