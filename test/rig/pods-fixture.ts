// Shared by the pod runner's tests: the pause image and a busybox test image on the rig's containerd, and a
// stand-in node whose resolver serves one ConfigMap, one Secret and service account tokens.
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { IPodStatus } from 'kubernetes-models/v1/PodStatus';
import { buildImage } from '../../rig/factory/index.ts';
import { importBuiltImage, importPauseImage, ociArchitecture, staticBusybox } from '../../rig/pause-image.ts';
import { type NodeContext, type PodHandle, startPod } from '../../rig/pods/index.ts';
import type { RigInfo } from '../../rig/types.ts';

export const BUSYBOX = 'localhost/airlock/busybox:test';

export interface PodFixture {
  node: NodeContext;
  busyboxDigest: string;
  /** A pod named `pod-<n>` in namespace `tests` with a unique uid. */
  podOf(spec: Partial<NonNullable<IPod['spec']>>): IPod;
  start(pod: IPod): PodHandle;
  removeAll(): Promise<void>;
}

/** A busybox container running `script` with `sh -c`. */
export const shell = (name: string, script: string, extra: Partial<IContainer> = {}): IContainer => ({
  name,
  image: BUSYBOX,
  command: ['/bin/busybox', 'sh', '-c', script],
  ...extra,
});

export const finished = (status: IPodStatus): boolean =>
  status.phase === 'Succeeded' || status.phase === 'Failed';

export const setUpPodFixture = async (
  rig: Pick<RigInfo, 'containerd' | 'workDir'>,
  nodeName: string,
): Promise<PodFixture> => {
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
  const node: NodeContext = {
    name: nodeName,
    root: await mkdtemp(join(rig.workDir, `${nodeName}-`)),
    ip: '127.0.0.1',
    resolver: {
      configMap: (namespace, name) =>
        name === 'settings' ? { data: { greeting: `hello from ${namespace}`, color: 'blue' } } : undefined,
      secret: (_namespace, name) =>
        name === 'creds' ? { data: { password: Buffer.from('s3cret').toString('base64') } } : undefined,
      serviceAccountToken: (request) =>
        `token-for-${request.serviceAccountName}-${request.podName}-${request.audience ?? 'api'}`,
    },
  };
  const handles: PodHandle[] = [];
  let count = 0;
  return {
    node,
    busyboxDigest: image.digest,
    podOf: (spec) => {
      count += 1;
      return {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `pod-${count}`,
          namespace: 'tests',
          uid: `${nodeName}-uid-${count}`,
          labels: { app: 'probe' },
        },
        spec: { restartPolicy: 'Never', containers: [], ...spec },
      };
    },
    start: (pod) => {
      const options = {
        address: rig.containerd.address,
        node,
        syncInterval: 100,
        backoff: { initial: 200, max: 1_000 },
      };
      const handle = startPod(pod, options);
      handles.push(handle);
      return handle;
    },
    removeAll: async () => {
      for (const handle of handles) await handle.remove(0).catch(() => undefined);
    },
  };
};
