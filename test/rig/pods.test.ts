import { mkdir, mkdtemp, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { IPodStatus } from 'kubernetes-models/v1/PodStatus';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { criClient, listImages } from '../../rig/cri.ts';
import { importPauseImage, PAUSE_IMAGE } from '../../rig/pause-image.ts';
import { cleanUpNodePods, podLogDirectory } from '../../rig/pods/index.ts';
import { BUSYBOX, finished, type PodFixture, setUpPodFixture, shell } from './pods-fixture.ts';

const rig = inject('rig');
let fixture: PodFixture;

beforeAll(async () => {
  fixture = await setUpPodFixture(rig, 'node-a');
}, 300_000);

afterAll(() => fixture?.removeAll());

const waitingReason = (status: IPodStatus) => status.containerStatuses?.[0]?.state?.waiting?.reason;

describe('pause image', () => {
  it('has the same digest when built twice from fresh caches, and the CRI lists it under that digest', async () => {
    const first = await importPauseImage(rig.containerd, {
      cacheDir: await mkdtemp(join(rig.workDir, 'cache-')),
    });
    const second = await importPauseImage(rig.containerd, {
      cacheDir: await mkdtemp(join(rig.workDir, 'cache-')),
    });
    expect(second.digest).toBe(first.digest);
    const images = await listImages(rig.containerd.address);
    const pause = images.find((image) => image.repoTags.includes(PAUSE_IMAGE));
    expect(pause?.repoDigests).toEqual([`localhost/airlock/pause@${first.digest}`]);
  });
});

describe('startPod', () => {
  it('runs the init container to completion before the container, which reads what it left in an emptyDir', async () => {
    const work = [{ name: 'work', mountPath: '/work' }];
    const pod = fixture.podOf({
      initContainers: [shell('prepare', 'echo prepared by init > /work/note', { volumeMounts: work })],
      containers: [
        { name: 'main', image: BUSYBOX, command: ['/bin/busybox', 'cat', '/work/note'], volumeMounts: work },
      ],
      volumes: [{ name: 'work', emptyDir: {} }],
    });
    const handle = fixture.start(pod);
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
    expect(status.conditions?.find((condition) => condition.type === 'Initialized')?.status).toBe('True');
    expect(status.conditions?.find((condition) => condition.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'PodCompleted',
    });
    expect(await handle.logs()).toBe('prepared by init\n');
    expect(await handle.logs({ container: 'prepare' })).toBe('');
  });

  it('fails a restartPolicy Never pod with the exit code, stderr in its logs', async () => {
    const handle = fixture.start(
      fixture.podOf({ containers: [shell('failing', 'echo out; echo broken >&2; exit 3')] }),
    );
    const status = await handle.waitFor(finished);
    expect(status.phase).toBe('Failed');
    expect(status.containerStatuses?.[0]).toMatchObject({
      name: 'failing',
      ready: false,
      restartCount: 0,
      image: BUSYBOX,
      imageID: `localhost/airlock/busybox@${fixture.busyboxDigest}`,
      state: { terminated: { exitCode: 3, reason: 'Error' } },
    });
    expect(await handle.logs()).toBe('out\nbroken\n');
    expect(await handle.logs({ stream: 'Stderr' })).toBe('broken\n');
  });

  it('fails the pod when an init container fails under restartPolicy Never, without starting the containers', async () => {
    const pod = fixture.podOf({
      initContainers: [shell('init', 'exit 2')],
      containers: [shell('main', 'echo never')],
    });
    const status = await fixture.start(pod).waitFor(finished);
    expect(status.phase).toBe('Failed');
    expect(status.initContainerStatuses?.[0]?.state?.terminated?.exitCode).toBe(2);
    expect(status.containerStatuses?.[0]?.state).toEqual({ waiting: { reason: 'PodInitializing' } });
  });

  it('restarts an OnFailure container after a failure until it succeeds', async () => {
    await mkdir(join(fixture.node.root, 'srv', 'counter'), { recursive: true });
    const script = 'if [ -f /data/once ]; then echo second; exit 0; fi; touch /data/once; echo first; exit 1';
    const pod = fixture.podOf({
      restartPolicy: 'OnFailure',
      containers: [shell('flaky', script, { volumeMounts: [{ name: 'data', mountPath: '/data' }] })],
      volumes: [{ name: 'data', hostPath: { path: '/srv/counter', type: 'Directory' } }],
    });
    const handle = fixture.start(pod);
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

  it('keeps an Always pod Running through CrashLoopBackOff', async () => {
    const handle = fixture.start(
      fixture.podOf({ restartPolicy: 'Always', containers: [shell('crash', 'exit 1')] }),
    );
    const status = await handle.waitFor((current) => waitingReason(current) === 'CrashLoopBackOff');
    expect(status.phase).toBe('Running');
    expect(status.containerStatuses?.[0]?.restartCount).toBeGreaterThanOrEqual(1);
    expect(status.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(1);
  });

  it('reports ErrImageNeverPull for an absent image with pull policy Never, and pulls nothing', async () => {
    const container = {
      name: 'absent',
      image: 'localhost/airlock/absent:1',
      imagePullPolicy: 'Never' as const,
    };
    const handle = fixture.start(fixture.podOf({ containers: [container] }));
    const status = await handle.waitFor((current) => waitingReason(current) === 'ErrImageNeverPull');
    expect(status.phase).toBe('Pending');
    expect(status.containerStatuses?.[0]?.state?.waiting?.message).toBe(
      'Container image "localhost/airlock/absent:1" is not present with pull policy of Never',
    );
  });

  it('reports ErrImagePull, then ImagePullBackOff, for an absent image it would have to pull', async () => {
    const handle = fixture.start(
      fixture.podOf({ containers: [{ name: 'absent', image: 'localhost/airlock/absent:2' }] }),
    );
    await handle.waitFor((status) => waitingReason(status) === 'ErrImagePull');
    const status = await handle.waitFor((current) => waitingReason(current) === 'ImagePullBackOff');
    expect(status.containerStatuses?.[0]?.state?.waiting?.message).toBe(
      'Back-off pulling image "localhost/airlock/absent:2"',
    );
  });

  it("keeps a pod with a missing hostPath Directory in ContainerCreating with kubelet's message, and starts it once the directory exists", async () => {
    const pod = fixture.podOf({
      containers: [shell('main', 'ls /data', { volumeMounts: [{ name: 'data', mountPath: '/data' }] })],
      volumes: [{ name: 'data', hostPath: { path: '/srv/missing', type: 'Directory' } }],
    });
    const handle = fixture.start(pod);
    await handle.waitFor(() => handle.events().some((event) => event.reason === 'FailedMount'));
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
    await mkdir(join(fixture.node.root, 'srv', 'missing', 'inside'), { recursive: true });
    expect((await handle.waitFor(finished)).phase).toBe('Succeeded');
    expect(await handle.logs()).toBe('inside\n');
  });
});

describe('stopping pods', () => {
  it('follows the logs of a running container, then stops it within the grace period', async () => {
    const handle = fixture.start(
      fixture.podOf({ containers: [shell('main', 'echo started; exec /bin/busybox sleep 600')] }),
    );
    await handle.waitFor((status) => status.phase === 'Running');
    const chunks: string[] = [];
    const following = (async () => {
      for await (const chunk of handle.followLogs({ timestamps: false })) chunks.push(chunk);
    })();
    const started = Date.now();
    await handle.stop(1);
    await following;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(chunks.join('')).toBe('started\n');
    const terminated = handle.status().containerStatuses?.[0]?.state?.terminated;
    expect(terminated?.exitCode).toBe(137);
  });

  it('removes the sandbox, the volumes and the logs of a removed pod', async () => {
    const pod = fixture.podOf({
      containers: [shell('main', 'echo done')],
      volumes: [{ name: 'v', emptyDir: {} }],
    });
    const handle = fixture.start(pod);
    await handle.waitFor(finished);
    await handle.remove();
    const sandboxes = await criClient(rig.containerd.address).listPodSandbox({
      labelSelector: { 'io.kubernetes.pod.uid': handle.uid },
    });
    expect(sandboxes).toEqual([]);
    await expect(stat(podLogDirectory(fixture.node, pod))).rejects.toThrow(/ENOENT/);
  });

  it("cleans up every pod of a node, and only that node's", async () => {
    const handle = fixture.start(
      fixture.podOf({ containers: [shell('main', 'exec /bin/busybox sleep 600')] }),
    );
    await handle.waitFor((status) => status.phase === 'Running');
    expect(await cleanUpNodePods(rig.containerd.address, fixture.node.root, 'node-elsewhere')).toBe(0);
    expect(
      await cleanUpNodePods(rig.containerd.address, fixture.node.root, fixture.node.name),
    ).toBeGreaterThanOrEqual(1);
    const left = await criClient(rig.containerd.address).listPodSandbox({
      labelSelector: { 'io.kubernetes.pod.uid': handle.uid },
    });
    expect(left).toEqual([]);
  });
});
