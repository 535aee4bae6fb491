import type { IContainer } from 'kubernetes-models/v1/Container';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PAUSE_IMAGE } from '../../rig/pause-image.ts';
import { finished, type PodFixture, setUpPodFixture, shell } from './pods-fixture.ts';

const rig = inject('rig');
let fixture: PodFixture;

beforeAll(async () => {
  fixture = await setUpPodFixture(rig, 'node-sec');
}, 300_000);

afterAll(() => fixture?.removeAll());

/** Runs one container to the end and returns its exit code and logs. */
const runOne = async (container: IContainer, spec: Parameters<PodFixture['podOf']>[0] = {}) => {
  const handle = fixture.start(fixture.podOf({ containers: [container], ...spec }));
  const status = await handle.waitFor(finished);
  return { exitCode: status.containerStatuses?.[0]?.state?.terminated?.exitCode, logs: await handle.logs() };
};

const statusLines = "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status";

describe('securityContext through the CRI', () => {
  it('enforces a read-only root filesystem while an emptyDir stays writable', async () => {
    const container = shell('main', 'touch /x; echo "root: $?"; touch /scratch/x && echo scratch: ok', {
      securityContext: { readOnlyRootFilesystem: true },
      volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
    });
    const result = await runOne(container, { volumes: [{ name: 'scratch', emptyDir: {} }] });
    expect(result.logs).toBe('touch: /x: Read-only file system\nroot: 1\nscratch: ok\n');
  });

  it('drops every capability, keeps an added one, sets no_new_privs and the runtime default seccomp filter', async () => {
    const container = shell('main', statusLines, {
      securityContext: {
        capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
        allowPrivilegeEscalation: false,
        seccompProfile: { type: 'RuntimeDefault' },
      },
    });
    const result = await runOne(container);
    expect(result.logs).toBe('CapEff:\t0000000000000400\nNoNewPrivs:\t1\nSeccomp:\t2\n');
  });

  it('leaves no_new_privs off and seccomp unconfined when the spec says nothing, as kubelet does', async () => {
    const result = await runOne(shell('main', "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status"));
    expect(result.logs).toBe('NoNewPrivs:\t0\nSeccomp:\t0\n');
  });

  it('runs as the pod-level runAsUser and the container-level runAsGroup', async () => {
    const container = shell('main', 'echo "$(id -u):$(id -g)"', { securityContext: { runAsGroup: 2000 } });
    const result = await runOne(container, { securityContext: { runAsUser: 1000, runAsGroup: 3000 } });
    expect(result.logs).toBe('1000:2000\n');
  });

  it("refuses runAsNonRoot for an image that runs as root, with kubelet's message", async () => {
    const pod = fixture.podOf({
      containers: [shell('main', 'true', { securityContext: { runAsNonRoot: true } })],
    });
    const handle = fixture.start(pod);
    const status = await handle.waitFor(
      (current) => current.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError',
    );
    expect(status.phase).toBe('Pending');
    expect(status.containerStatuses?.[0]?.state?.waiting?.message).toBe(
      `container has runAsNonRoot and image will run as root (pod: "${pod.metadata?.name}_tests(${pod.metadata?.uid})", container: main)`,
    );
  });
});

describe('the pause image as a container image', () => {
  it('runs a command from it with every capability dropped and a read-only root, as the importer pod does', async () => {
    const container: IContainer = {
      name: 'importer',
      image: PAUSE_IMAGE,
      command: ['/bin/busybox', 'sh', '-c', `${statusLines}; touch /x 2>/dev/null || echo read-only`],
      securityContext: {
        runAsUser: 0,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      },
    };
    const result = await runOne(container);
    expect(result).toEqual({
      exitCode: 0,
      logs: 'CapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t0\nread-only\n',
    });
  });
});

describe('env, command and volumes', () => {
  it('builds env from values, the downward API, a ConfigMap and a Secret, and expands $(VAR) in args', async () => {
    const container: IContainer = {
      name: 'main',
      image: 'localhost/airlock/busybox:test',
      command: ['/bin/busybox', 'sh', '-c'],
      args: [
        // Single quotes keep the shell off what Kubernetes left unexpanded.
        `echo "$(GREETING) $NODE $POD $NAMESPACE $UID $HOST_IP $SA $PASSWORD $CFG_color" '$(MISSING) $$(GREETING)'; pwd`,
      ],
      workingDir: '/proc',
      envFrom: [{ prefix: 'CFG_', configMapRef: { name: 'settings' } }],
      env: [
        { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'settings', key: 'greeting' } } },
        { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
        { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
        { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
        { name: 'SA', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
        { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } },
      ],
    };
    const handle = fixture.start(fixture.podOf({ containers: [container], serviceAccountName: 'importer' }));
    await handle.waitFor(finished);
    const { name, uid } = handle.pod.metadata ?? {};
    expect(await handle.logs()).toBe(
      `hello from tests node-sec ${name} tests ${uid} 127.0.0.1 importer s3cret blue $(MISSING) $(GREETING)\n/proc\n`,
    );
  });

  it('waits with CreateContainerConfigError when a ConfigMap key is missing', async () => {
    const container = shell('main', 'true', {
      env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'settings', key: 'absent' } } }],
    });
    const handle = fixture.start(fixture.podOf({ containers: [container] }));
    const status = await handle.waitFor(
      (current) => current.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError',
    );
    expect(status.containerStatuses?.[0]?.state?.waiting?.message).toBe(
      "couldn't find key absent in ConfigMap tests/settings",
    );
  });

  it('writes configMap, secret, projected and downwardAPI volumes, mounted read-only', async () => {
    const script = [
      'cat /cm/greeting; echo',
      'cat /secret/password; echo',
      'cat /projected/token; echo',
      'cat /projected/color; echo',
      'cat /projected/labels; echo',
      'cat /downward/name; echo',
      'touch /cm/new 2>/dev/null || echo read-only',
    ].join('; ');
    const container = shell('main', script, {
      volumeMounts: ['cm', 'secret', 'projected', 'downward'].map((name) => ({
        name,
        mountPath: `/${name}`,
      })),
    });
    const handle = fixture.start(
      fixture.podOf({
        containers: [container],
        volumes: [
          { name: 'cm', configMap: { name: 'settings' } },
          { name: 'secret', secret: { secretName: 'creds' } },
          {
            name: 'projected',
            projected: {
              sources: [
                { serviceAccountToken: { path: 'token', audience: 'airlock' } },
                { configMap: { name: 'settings', items: [{ key: 'color', path: 'color' }] } },
                { downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
              ],
            },
          },
          {
            name: 'downward',
            downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] },
          },
        ],
      }),
    );
    await handle.waitFor(finished);
    const name = handle.pod.metadata?.name;
    expect(await handle.logs()).toBe(
      `hello from tests\ns3cret\ntoken-for-default-${name}-airlock\nblue\napp="probe"\n${name}\nread-only\n`,
    );
  });
});
