// Defaulting the real API server applies on create, as far as clients and our controllers read the fields.
import { randomInt } from 'node:crypto';
import type { KubeObject } from './types.ts';

const pullPolicyFor = (image: string): string => {
  const lastPart = image.split('/').at(-1) ?? image;
  if (image.includes('@')) return 'IfNotPresent';
  return !lastPart.includes(':') || lastPart.endsWith(':latest') ? 'Always' : 'IfNotPresent';
};

// biome-ignore lint/suspicious/noExplicitAny: a pod spec as free-form JSON
export const defaultPodSpec = (spec: any): void => {
  if (!spec) return;
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.securityContext ??= {};
  if (spec.serviceAccountName === undefined) spec.serviceAccountName = spec.serviceAccount ?? 'default';
  spec.serviceAccount = spec.serviceAccountName;
  for (const container of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    container.imagePullPolicy ??= pullPolicyFor(String(container.image ?? ''));
    container.terminationMessagePath ??= '/dev/termination-log';
    container.terminationMessagePolicy ??= 'File';
    container.resources ??= {};
  }
};

const defaultTemplate = (object: KubeObject): void => {
  object.spec.template ??= {};
  object.spec.template.metadata ??= {};
  defaultPodSpec(object.spec.template.spec);
};

const defaultJob = (object: KubeObject): void => {
  const spec = object.spec;
  spec.backoffLimit ??= 6;
  spec.completions ??= 1;
  spec.parallelism ??= 1;
  spec.completionMode ??= 'NonIndexed';
  spec.suspend ??= false;
  spec.podReplacementPolicy ??= 'TerminatingOrFailed';
  spec.manualSelector ??= undefined;
  if (spec.manualSelector) return;
  // Without manualSelector the server picks the selector: the Job's own uid, stamped on the template too.
  const uid = object.metadata.uid ?? '';
  const labels = {
    'batch.kubernetes.io/controller-uid': uid,
    'batch.kubernetes.io/job-name': object.metadata.name ?? '',
    'controller-uid': uid,
    'job-name': object.metadata.name ?? '',
  };
  spec.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
  spec.template.metadata.labels = { ...spec.template.metadata.labels, ...labels };
};

const defaultDeployment = (object: KubeObject): void => {
  const spec = object.spec;
  spec.replicas ??= 1;
  spec.revisionHistoryLimit ??= 10;
  spec.progressDeadlineSeconds ??= 600;
  spec.strategy ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } };
};

const defaultService = (object: KubeObject): void => {
  const spec = object.spec;
  spec.type ??= 'ClusterIP';
  spec.sessionAffinity ??= 'None';
  // Addresses from 10.96.0.0/12 like kubeadm's default service range; nothing routes to them here.
  if (spec.clusterIP !== 'None') spec.clusterIP ??= `10.96.${randomInt(0, 255)}.${randomInt(1, 254)}`;
  spec.clusterIPs ??= spec.clusterIP ? [spec.clusterIP] : undefined;
  for (const port of spec.ports ?? []) {
    port.protocol ??= 'TCP';
    port.targetPort ??= port.port;
  }
  object.status ??= { loadBalancer: {} };
};

/** Fills defaults in place; runs after metadata.uid is set, as Job selectors need it. */
export const applyDefaults = (object: KubeObject): void => {
  if (object.spec && ['Job', 'Deployment', 'ReplicaSet', 'DaemonSet', 'StatefulSet'].includes(object.kind)) {
    defaultTemplate(object);
  }
  switch (object.kind) {
    case 'Pod':
      defaultPodSpec(object.spec);
      object.status = { phase: 'Pending', qosClass: 'BestEffort' };
      return;
    case 'Job':
      defaultJob(object);
      object.status ??= {};
      return;
    case 'Deployment':
      defaultDeployment(object);
      object.status ??= {};
      return;
    case 'ReplicaSet':
      object.spec.replicas ??= 1;
      object.status ??= { replicas: 0 };
      return;
    case 'DaemonSet':
      object.spec.updateStrategy ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } };
      object.spec.revisionHistoryLimit ??= 10;
      object.status ??= {};
      return;
    case 'Service':
      defaultService(object);
      return;
    case 'Namespace':
      object.spec = { finalizers: ['kubernetes'], ...object.spec };
      object.status = { phase: 'Active' };
      object.metadata.labels = {
        ...object.metadata.labels,
        'kubernetes.io/metadata.name': object.metadata.name ?? '',
      };
      return;
    case 'Secret':
      object.type ??= 'Opaque';
      return;
    default:
      return;
  }
};

/** What the server does on every write: Secret stringData folds into data (base64), as in the real server. */
export const normalizeOnWrite = (object: KubeObject): void => {
  if (object.kind !== 'Secret' || !object.stringData) return;
  const data = (object.data ?? {}) as Record<string, string>;
  for (const [key, value] of Object.entries(object.stringData as Record<string, string>)) {
    data[key] = Buffer.from(String(value)).toString('base64');
  }
  object.data = data;
  delete object.stringData;
};
