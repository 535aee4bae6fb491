// The ServiceAccount admission plugin, for every pod however it is created (a client or a controller): the
// pod's service account must exist, and unless automounting is off the pod gets the projected
// `kube-api-access-*` volume (bound token, the cluster CA from kube-root-ca.crt, the namespace) mounted
// read-only in every container at /var/run/secrets/kubernetes.io/serviceaccount, as the real plugin adds it.
import { randomBytes } from 'node:crypto';
import { ApiError } from './status.ts';
import type { Store } from './store.ts';
import type { KubeObject } from './types.ts';

export const SERVICE_ACCOUNT_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
export const ROOT_CA_CONFIG_MAP = 'kube-root-ca.crt';

const suffix = (): string => {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...randomBytes(5)].map((byte) => alphabet[byte % alphabet.length]).join('');
};

const accessVolume = (name: string) => ({
  name,
  projected: {
    defaultMode: 0o644,
    sources: [
      { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
      { configMap: { name: ROOT_CA_CONFIG_MAP, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      {
        downwardAPI: {
          items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
        },
      },
    ],
  },
});

/** Checks the pod's service account and mounts its token; a missing account is 403, as on a real server. */
export const admitPod = (store: Store, pod: KubeObject): void => {
  const { spec, metadata } = pod;
  const namespace = metadata.namespace ?? 'default';
  const name = spec.serviceAccountName ?? 'default';
  const account = store.get('serviceaccounts', namespace, name);
  if (!account) {
    throw new ApiError(
      'Forbidden',
      `pods "${metadata.name ?? metadata.generateName ?? ''}" is forbidden: error looking up service account ${namespace}/${name}: serviceaccount "${name}" not found`,
    );
  }
  const automount = spec.automountServiceAccountToken ?? account.automountServiceAccountToken ?? true;
  if (!automount) return;
  type Container = { volumeMounts?: { name?: string; readOnly?: boolean; mountPath: string }[] };
  const containers: Container[] = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  if (
    containers.some((container) =>
      container.volumeMounts?.some((mount) => mount.mountPath === SERVICE_ACCOUNT_MOUNT),
    )
  )
    return;
  const volume = `kube-api-access-${suffix()}`;
  // New container objects, never the given ones: a controller's pod may share them with its template, and a
  // mount added there would reach the next pod without its volume.
  const mounted = (list: Container[] | undefined) =>
    list?.map((container) => ({
      ...container,
      volumeMounts: [
        ...(container.volumeMounts ?? []),
        { name: volume, readOnly: true, mountPath: SERVICE_ACCOUNT_MOUNT },
      ],
    }));
  spec.volumes = [...(spec.volumes ?? []), accessVolume(volume)];
  if (spec.initContainers) spec.initContainers = mounted(spec.initContainers);
  if (spec.containers) spec.containers = mounted(spec.containers);
};
