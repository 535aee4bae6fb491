import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FakeNodeImage {
  names: string[];
  sizeBytes: number;
}

export interface FakeNode {
  name: string;
  labels?: Record<string, string>;
  /** The Ready condition's status; default true. */
  ready?: boolean;
  /** status.images, as kubelet reports them (repo tags and repo digests under one entry). */
  images?: FakeNodeImage[];
  /** status.nodeInfo fields; the rest of nodeInfo is filled in like a kubeadm node's. */
  nodeInfo?: { containerRuntimeVersion?: string; kubeletVersion?: string; architecture?: string };
}

export interface FakeKubeApiOptions {
  nodes: readonly FakeNode[];
  /** Answer the node list with 403, as for an installer without the cluster-wide "list nodes" permission. */
  nodeListForbidden?: boolean;
}

export interface FakeKubeApi {
  /** A kubeconfig file pointing at the fake API. */
  kubeconfig: string;
  close: () => Promise<void>;
}

const resource = (name: string, kind: string, namespaced: boolean) => ({
  name,
  singularName: kind.toLowerCase(),
  namespaced,
  kind,
  verbs: ['get', 'list', 'create'],
});

const group = (name: string) => ({
  name,
  versions: [{ groupVersion: `${name}/v1`, version: 'v1' }],
  preferredVersion: { groupVersion: `${name}/v1`, version: 'v1' },
});

/** A Node object in the shape the API server returns it. */
const nodeObject = (node: FakeNode) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: node.name, labels: node.labels ?? {} },
  status: {
    conditions: [
      { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory' },
      node.ready === false
        ? {
            type: 'Ready',
            status: 'Unknown',
            reason: 'NodeStatusUnknown',
            message: 'Kubelet stopped posting node status.',
          }
        : {
            type: 'Ready',
            status: 'True',
            reason: 'KubeletReady',
            message: 'kubelet is posting ready status',
          },
    ],
    images: node.images ?? [],
    nodeInfo: {
      architecture: 'amd64',
      containerRuntimeVersion: 'containerd://1.7.24',
      kubeletVersion: 'v1.30.0',
      operatingSystem: 'linux',
      ...node.nodeInfo,
    },
  },
});

const notFound = {
  kind: 'Status',
  apiVersion: 'v1',
  status: 'Failure',
  reason: 'NotFound',
  code: 404,
};

const forbiddenNodes = {
  kind: 'Status',
  apiVersion: 'v1',
  status: 'Failure',
  reason: 'Forbidden',
  message:
    'nodes is forbidden: User "installer" cannot list resource "nodes" in API group "" at the cluster scope',
  code: 403,
};

/**
 * Just enough of a Kubernetes API server for `helm install --dry-run`: version and discovery for the
 * kinds the chart renders, a node list for `lookup`, no releases, and 404 for every object, so Helm sees
 * an empty namespace. No kubelet or API server exists on the test machine; the chart's node lookup
 * needs this to be exercised at all.
 */
export const startFakeKubeApi = async ({
  nodes,
  nodeListForbidden = false,
}: FakeKubeApiOptions): Promise<FakeKubeApi> => {
  const routes: Record<string, unknown> = {
    '/version': { major: '1', minor: '30', gitVersion: 'v1.30.0', platform: 'linux/amd64' },
    '/api': { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] },
    '/apis': {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [group('apps'), group('batch'), group('rbac.authorization.k8s.io')],
    },
    '/api/v1': {
      kind: 'APIResourceList',
      groupVersion: 'v1',
      resources: [
        resource('nodes', 'Node', false),
        resource('secrets', 'Secret', true),
        resource('services', 'Service', true),
        resource('serviceaccounts', 'ServiceAccount', true),
      ],
    },
    '/apis/apps/v1': {
      kind: 'APIResourceList',
      groupVersion: 'apps/v1',
      resources: [resource('deployments', 'Deployment', true), resource('daemonsets', 'DaemonSet', true)],
    },
    '/apis/rbac.authorization.k8s.io/v1': {
      kind: 'APIResourceList',
      groupVersion: 'rbac.authorization.k8s.io/v1',
      resources: [resource('roles', 'Role', true), resource('rolebindings', 'RoleBinding', true)],
    },
    '/apis/batch/v1': {
      kind: 'APIResourceList',
      groupVersion: 'batch/v1',
      resources: [resource('jobs', 'Job', true)],
    },
    '/api/v1/nodes': {
      kind: 'NodeList',
      apiVersion: 'v1',
      metadata: {},
      items: nodes.map(nodeObject),
    },
    ...Object.fromEntries(nodes.map((node) => [`/api/v1/nodes/${node.name}`, nodeObject(node)])),
  };
  const reply = (response: ServerResponse, status: number, body: unknown): void => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://fake').pathname;
    if (nodeListForbidden && path.startsWith('/api/v1/nodes')) return reply(response, 403, forbiddenNodes);
    const body = routes[path];
    if (body !== undefined) return reply(response, 200, body);
    // Helm keeps releases in Secrets: an empty list means no release of that name exists yet.
    if (/^\/api\/v1\/namespaces\/[^/]+\/secrets$/.test(path)) {
      return reply(response, 200, { kind: 'SecretList', apiVersion: 'v1', metadata: {}, items: [] });
    }
    return reply(response, 404, notFound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fake API server has no TCP address');
  const { port } = address;

  const dir = await mkdtemp(join(tmpdir(), 'airlock-kube-'));
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: `http://127.0.0.1:${port}` } }],
      users: [{ name: 'fake', user: {} }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
      'current-context': 'fake',
    }),
    { mode: 0o600 },
  );
  return {
    kubeconfig,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
};
