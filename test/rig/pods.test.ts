import { mkdir, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { IPodStatus } from 'kubernetes-models/v1/PodStatus';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { listImages } from '../../rig/cri.ts';
import { buildImage } from '../../rig/factory/index.ts';
import {
  importBuiltImage,
  importPauseImage,
  ociArchitecture,
  PAUSE_IMAGE,
  staticBusybox,
} from '../../rig/pause-image.ts';
import { type NodeContext, type PodHandle, startPod } from '../../rig/pods/index.ts';

const rig = inject('rig');
const BUSYBOX = 'localhost/airlock/busybox:test';
const handles: PodHandle[] = [];
let node: NodeContext;
let podCount = 0;
let busyboxDigest: string;

beforeAll(async () => {
  await importPauseImage(rig.containerd);
  const image = await buildImage({
    format: 'oci',
    platforms: [
      {
        architecture: ociArchitecture(),
        layers: [{ files: [{ path: '/bin/busybox', content: await staticBusybox(), mode: 0o755 }] }],
        cmd: ['/bin/busybox', 'echo', 'from the image'],
      },
    ],
  });
  await importBuiltImage(rig.containerd, image, BUSYBOX);
  busyboxDigest = image.digest;
  const root = await mkdtemp(join(rig.workDir, 'node-'));
  node = {
    name: 'node-a',
    root,
    ip: '127.0.0.1',
    resolver: {
      configMap: (namespace, name) =>
        name === 'settings' ? { data: { greeting: `hello from ${namespace}` } } : undefined,
      secret: (_namespace, name) =>
        name === 'creds' ? { data: { password: Buffer.from('s3cret').toString('base64') } } : undefined,
      serviceAccountToken: (request) => `token-for-${request.serviceAccountName}-${request.podName}`,
    },
  };
}, 300_000);

afterAll(async () => {
  for (const handle of handles) await handle.remove(0).catch(() => undefined);
});

/** A pod of busybox shell scripts; each `script` becomes a container `sh -c script`. */
const podOf = (spec: Partial<NonNullable<IPod['spec']>> & { scripts?: Record<string, string> }): IPod => {
  podCount += 1;
  const { scripts = {}, ...rest } = spec;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `pod-${podCount}`, namespace: 'tests', uid: `uid-${podCount}-${Date.now()}` },
    spec: {
      restartPolicy: 'Never',
      containers: Object.entries(scripts).map(([name, script]) => ({
        name,
        image: BUSYBOX,
        command: ['/bin/busybox', 'sh', '-c', script],
      })),
      ...rest,
    },
  };
};

const start = (pod: IPod): PodHandle => {
  const handle = startPod(pod, {
    address: rig.containerd.address,
    node,
    syncInterval: 100,
    backoff: { initial: 200, max: 1_000 },
  });
  handles.push(handle);
  return handle;
};

const finished = (status: IPodStatus) => status.phase === 'Succeeded' || status.phase === 'Failed';

describe('pause image', () => {
  it('has the same digest when built twice from fresh caches', async () => {
    const first = await importPauseImage(rig.containerd, {
      cacheDir: await mkdtemp(join(rig.workDir, 'cache-')),
    });
    const second = await importPauseImage(rig.containerd, {
      cacheDir: await mkdtemp(join(rig.workDir, 'cache-')),
    });
    expect(second.digest).toBe(first.digest);
    const images = await listImages(rig.containerd.address);
    const pause = images.find((image) => image.repoTags.includes(PAUSE_IMAGE));
    expect(pause?.repoDigests).toContain(`localhost/airlock/pause@${first.digest}`);
  });
});

describe('startPod', () => {
  it('runs the init container to completion before the container, which reads what it left in an emptyDir', async () => {
    const pod = podOf({
      initContainers: [
        {
          name: 'prepare',
          image: BUSYBOX,
          command: ['/bin/busybox', 'sh', '-c', 'echo prepared by init > /work/note'],
          volumeMounts: [{ name: 'work', mountPath: '/work' }],
        },
      ],
      containers: [
        {
          name: 'main',
          image: BUSYBOX,
          command: ['/bin/busybox', 'cat', '/work/note'],
          volumeMounts: [{ name: 'work', mountPath: '/work' }],
        },
      ],
      volumes: [{ name: 'work', emptyDir: {} }],
    });
    const handle = start(pod);
    const status = await handle.waitFor(finished);
    expect(status.phase).toBe('Succeeded');
    expect(status.initContainerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 0,
      reason: 'Completed',
    });
    expect(status.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 0,
      reason: 'Completed',
    });
    expect(await handle.logs()).toBe('prepared by init\n');
    expect(await handle.logs({ container: 'prepare' })).toBe('');
  });

  it('fails a restartPolicy Never pod with the exit code, stderr in its logs', async () => {
    const handle = start(podOf({ scripts: { failing: 'echo out; echo broken >&2; exit 3' } }));
    const status = await handle.waitFor(finished);
    expect(status.phase).toBe('Failed');
    expect(status.containerStatuses?.[0]).toMatchObject({
      name: 'failing',
      ready: false,
      restartCount: 0,
      image: BUSYBOX,
      state: { terminated: { exitCode: 3, reason: 'Error' } },
    });
    expect(status.containerStatuses?.[0]?.imageID).toBe(`localhost/airlock/busybox@${busyboxDigest}`);
    expect(await handle.logs()).toBe('out\nbroken\n');
    expect(await handle.logs({ stream: 'Stderr' })).toBe('broken\n');
  });

  it('restarts an OnFailure container after a failure until it succeeds', async () => {
    const dir = join(node.root, 'srv', 'counter');
    await mkdir(dir, { recursive: true });
    const pod = podOf({
      restartPolicy: 'OnFailure',
      containers: [
        {
          name: 'flaky',
          image: BUSYBOX,
          command: [
            '/bin/busybox',
            'sh',
            '-c',
            'if [ -f /data/once ]; then echo second; exit 0; fi; touch /data/once; echo first; exit 1',
          ],
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
        },
      ],
      volumes: [{ name: 'data', hostPath: { path: '/srv/counter', type: 'Directory' } }],
    });
    const handle = start(pod);
    const status = await handle.waitFor(finished);
    expect(status.phase).toBe('Succeeded');
    expect(status.containerStatuses?.[0]).toMatchObject({
      restartCount: 1,
      state: { terminated: { exitCode: 0 } },
      lastState: { terminated: { exitCode: 1, reason: 'Error' } },
    });
    expect(await handle.logs()).toBe('second\n');
    expect(await handle.logs({ previous: true })).toBe('first\n');
  });

  it('reports ErrImageNeverPull for an absent image with pull policy Never, and pulls nothing', async () => {
    const pod = podOf({
      containers: [{ name: 'absent', image: 'localhost/airlock/absent:1', imagePullPolicy: 'Never' }],
    });
    const handle = start(pod);
    const status = await handle.waitFor(
      (current) => current.containerStatuses?.[0]?.state?.waiting?.reason === 'ErrImageNeverPull',
    );
    expect(status.phase).toBe('Pending');
    expect(status.containerStatuses?.[0]?.state?.waiting?.message).toBe(
      'Container image "localhost/airlock/absent:1" is not present with pull policy of Never',
    );
  });

  it('reports ErrImagePull, then ImagePullBackOff, for an absent image it would have to pull', async () => {
    const handle = start(podOf({ containers: [{ name: 'absent', image: 'localhost/airlock/absent:2' }] }));
    const reason = (status: IPodStatus) => status.containerStatuses?.[0]?.state?.waiting?.reason;
    await handle.waitFor((status) => reason(status) === 'ErrImagePull');
    const status = await handle.waitFor((current) => reason(current) === 'ImagePullBackOff');
    expect(status.containerStatuses?.[0]?.state?.waiting?.message).toBe(
      'Back-off pulling image "localhost/airlock/absent:2"',
    );
  });

  it("keeps a pod with a missing hostPath Directory in ContainerCreating with kubelet's message, and starts it once the directory exists", async () => {
    const pod = podOf({
      containers: [
        {
          name: 'main',
          image: BUSYBOX,
          command: ['/bin/busybox', 'ls', '/data'],
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
        },
      ],
      volumes: [{ name: 'data', hostPath: { path: '/srv/missing', type: 'Directory' } }],
    });
    const handle = start(pod);
    const mountFailed = () => handle.events().some((event) => event.reason === 'FailedMount');
    await handle.waitFor(mountFailed);
    await handle.refresh();
    expect(handle.status().phase).toBe('Pending');
    expect(handle.status().containerStatuses?.[0]?.state).toEqual({
      waiting: { reason: 'ContainerCreating' },
    });
    expect(handle.events().find((event) => event.reason === 'FailedMount')).toMatchObject({
      type: 'Warning',
      message:
        'MountVolume.SetUp failed for volume "data" : hostPath type check failed: /srv/missing is not a directory',
    });
    await mkdir(join(node.root, 'srv', 'missing', 'inside'), { recursive: true });
    expect((await handle.waitFor(finished)).phase).toBe('Succeeded');
    expect(await handle.logs()).toBe('inside\n');
  });
});
