import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Container,
  helmBinaries,
  installDryRun,
  type KubernetesObject,
  ofKind,
  podSpecOf,
  renderChart,
} from './chart-render.ts';
import { type FakeKubeApi, startFakeKubeApi } from './fake-kube-api.ts';

const PAUSE = 'registry.k8s.io/pause:3.10';

const keepers = async (helm: string, imagePull: object, values: object = {}): Promise<KubernetesObject[]> =>
  ofKind(
    await renderChart(helm, {
      ...values,
      imagePull: { enabled: true, nodes: ['node-a'], importer: { hostImage: PAUSE }, ...imagePull },
    }),
    'DaemonSet',
  );

const onlyKeeper = async (helm: string, imagePull: object = {}, values: object = {}) => {
  const daemonSets = await keepers(helm, imagePull, values);
  expect(daemonSets).toHaveLength(1);
  const spec = podSpecOf(daemonSets[0]!);
  if (!spec) throw new Error('the keeper has no pod template');
  return { daemonSet: daemonSets[0]!, spec };
};

const checksumOf = (daemonSet: KubernetesObject): string =>
  (daemonSet.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata
    .annotations['checksum/images'] ?? '';

describe.each(helmBinaries())('the image keeper with $name', ({ path: helm }) => {
  it('is a DaemonSet, not a hook, whose init container runs the bundle importer in the pause image', async () => {
    const { daemonSet, spec } = await onlyKeeper(helm);
    expect(daemonSet.metadata.name).toBe('demo-airlock-demo-image-keeper-amd64');
    expect(daemonSet.metadata.annotations?.['helm.sh/hook']).toBeUndefined();
    const [importer] = spec.initContainers ?? [];
    expect(importer?.image).toBe(PAUSE);
    expect(importer?.imagePullPolicy).toBe('Never');
    expect(importer?.command).toEqual([
      '/images/importer/linux-amd64/lib/ld-linux-x86-64.so.2',
      '--library-path',
      '/images/importer/linux-amd64/lib',
      '/images/importer/linux-amd64/bin/node',
      '/images/importer/linux-amd64/importer.mjs',
    ]);
    expect(spec.nodeSelector).toEqual({ 'kubernetes.io/arch': 'amd64' });
  });

  it('mounts the runtime socket in the init container only; the idle container runs the image entrypoint unprivileged', async () => {
    const { spec } = await onlyKeeper(helm);
    const [importer] = spec.initContainers ?? [];
    expect(importer?.volumeMounts?.map((mount) => mount.name)).toEqual(['images', 'runtime-socket', 'tmp']);
    expect(spec.containers).toHaveLength(1);
    const idle = spec.containers[0] as Container;
    expect(idle.image).toBe(PAUSE);
    expect(idle).not.toHaveProperty('command');
    expect(idle).not.toHaveProperty('args');
    expect(idle.volumeMounts).toBeUndefined();
    expect(idle.securityContext).toMatchObject({
      privileged: false,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(importer?.securityContext).toMatchObject({ privileged: false, capabilities: { drop: ['ALL'] } });
  });

  it('rolls when the release images change, and only then', async () => {
    const before = checksumOf((await onlyKeeper(helm)).daemonSet);
    expect(before).toMatch(/^[0-9a-f]{64}$/);
    expect(checksumOf((await onlyKeeper(helm, { retries: 5 })).daemonSet)).toBe(before);
    const changed = checksumOf((await onlyKeeper(helm, {}, { web: { image: { tag: '2.0.0' } } })).daemonSet);
    expect(changed).not.toBe(before);
  });

  it('in watch mode runs the importer in the main container with AIRLOCK_WATCH and the interval, socket mounted', async () => {
    const { spec } = await onlyKeeper(helm, { keeper: { watch: true, interval: 45 } });
    const [importer] = spec.initContainers ?? [];
    expect(spec.containers).toHaveLength(1);
    const watch = spec.containers[0] as Container;
    expect(watch.name).toBe('watch');
    expect(watch.image).toBe(PAUSE);
    expect(watch.command).toEqual(importer?.command);
    expect(watch.env).toEqual(
      expect.arrayContaining([
        { name: 'AIRLOCK_WATCH', value: 'true' },
        { name: 'AIRLOCK_INTERVAL', value: '45' },
        { name: 'AIRLOCK_CONTAINERD_ADDRESS', value: '/run/containerd/containerd.sock' },
      ]),
    );
    expect(importer?.env?.map((variable) => variable.name)).not.toContain('AIRLOCK_WATCH');
    expect(watch.volumeMounts?.map((mount) => mount.name)).toEqual(['images', 'runtime-socket', 'tmp']);
    expect(watch.securityContext).toMatchObject({ runAsUser: 0, capabilities: { drop: ['ALL'] } });
    expect(watch.resources).toEqual({
      limits: { cpu: '500m', memory: '512Mi' },
      requests: { cpu: '5m', memory: '64Mi' },
    });
  });

  it('takes the image override, and is left out when disabled or in image mode', async () => {
    const { spec } = await onlyKeeper(helm, { keeper: { image: 'example.org/pause:9' } });
    expect(spec.containers[0]?.image).toBe('example.org/pause:9');
    expect(await keepers(helm, { keeper: { enabled: false } })).toEqual([]);
    expect(await keepers(helm, { importer: { mode: 'image' } })).toEqual([]);
  });
});

describe.each(helmBinaries())('the image keeper on listed nodes with $name', ({ path: helm }) => {
  let api: FakeKubeApi;
  const images = [
    { names: ['registry.k8s.io/coredns/coredns:v1.11.1'], sizeBytes: 100 },
    { names: [PAUSE], sizeBytes: 320_000 },
  ];

  beforeAll(async () => {
    api = await startFakeKubeApi({
      nodes: [
        { name: 'amd-1', images },
        { name: 'arm-1', images, nodeInfo: { architecture: 'arm64' } },
        { name: 'bare-1', images: [images[0]!], labels: { bare: 'true' } },
      ],
    });
  });
  afterAll(async () => {
    await api.close();
  });

  it('runs in the pause image of the current nodes, one DaemonSet per architecture', async () => {
    const result = await installDryRun(helm, {
      kubeconfig: api.kubeconfig,
      mode: 'server',
      values: { imagePull: { enabled: true, nodes: ['amd-1', 'arm-1'] } },
    });
    const daemonSets = ofKind(result.objects, 'DaemonSet');
    expect(daemonSets.map((daemonSet) => daemonSet.metadata.name)).toEqual([
      'demo-airlock-demo-image-keeper-amd64',
      'demo-airlock-demo-image-keeper-arm64',
    ]);
    for (const daemonSet of daemonSets) expect(podSpecOf(daemonSet)?.containers[0]?.image).toBe(PAUSE);
    expect(podSpecOf(daemonSets[1]!)?.initContainers?.[0]?.command?.[0]).toBe(
      '/images/importer/linux-arm64/lib/ld-linux-aarch64.so.1',
    );
  });

  it('refuses to render when no pause image is found and none is given, naming the value to set', async () => {
    const install = installDryRun(helm, {
      kubeconfig: api.kubeconfig,
      mode: 'server',
      values: { imagePull: { enabled: true, nodeSelector: { bare: 'true' } } },
    });
    await expect(install).rejects.toMatchObject({
      stderr: expect.stringContaining(
        'imagePull.keeper.image is empty and no pause image was found on the nodes',
      ),
    });
  });
});
