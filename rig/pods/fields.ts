// Downward API values (env `fieldRef` and downwardAPI volume items) as kubelet computes them for a
// host-network pod on a stand-in node.
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { NodeContext } from './types.ts';

// kubelet's fieldpath.FormatMap: sorted `key="value"` lines, the value quoted like Go's strconv.Quote.
const formatMap = (map: Record<string, string> | undefined): string =>
  Object.keys(map ?? {})
    .sort()
    .map((key) => `${key}=${JSON.stringify(map![key])}`)
    .join('\n');

const subscript = (fieldPath: string, prefix: string): string | undefined => {
  const match = new RegExp(`^${prefix.replace('.', '\\.')}\\['(.*)'\\]$`).exec(fieldPath);
  return match?.[1];
};

/** The value of a downward-API fieldPath, or undefined for one kubelet would reject. */
export const podFieldValue = (
  pod: IPod,
  node: Pick<NodeContext, 'name' | 'ip'>,
  fieldPath: string,
): string | undefined => {
  const ip = node.ip ?? '127.0.0.1';
  const metadata = pod.metadata ?? {};
  switch (fieldPath) {
    case 'metadata.name':
      return metadata.name ?? '';
    case 'metadata.namespace':
      return metadata.namespace ?? 'default';
    case 'metadata.uid':
      return metadata.uid ?? '';
    case 'metadata.labels':
      return formatMap(metadata.labels);
    case 'metadata.annotations':
      return formatMap(metadata.annotations);
    case 'spec.nodeName':
      return node.name;
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? pod.spec?.serviceAccount ?? 'default';
    case 'status.hostIP':
    case 'status.podIP':
    case 'status.hostIPs':
    case 'status.podIPs':
      return ip;
  }
  const label = subscript(fieldPath, 'metadata.labels');
  if (label !== undefined) return metadata.labels?.[label] ?? '';
  const annotation = subscript(fieldPath, 'metadata.annotations');
  if (annotation !== undefined) return metadata.annotations?.[annotation] ?? '';
  return undefined;
};
