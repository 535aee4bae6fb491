// The cluster daemon: one process per cluster directory holding the API server, the controllers and one kubelet
// per node, answering `status`, `node add|down` and `down` on DIR/control.sock (HTTP over a unix socket).

import { rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Store } from './api/store.ts';
import { startControlPlane } from './control-plane.ts';
import { NODE_GRACE_SECONDS } from './controllers/housekeeping.ts';
import { conditionHolds } from './controllers/util.ts';
import { kubeconfigFor } from './kubeconfig.ts';
import { bootNode, type ClusterNode, checkNodeName, haltNode, stopNode } from './node.ts';
import { containerdSocket, controlSocket, kubeconfigPath, nodeRoot } from './paths.ts';
import { podLogWriter } from './pod-logs.ts';
import type { ClusterStatus } from './status.ts';

const log = (line: string): void => {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
};

const reply = (response: ServerResponse, code: number, body: unknown): void => {
  response.writeHead(code, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify(body));
};

// Go's collector runs early in the containerds and shims this process starts (they inherit the environment):
// four nodes fit the stand-in's memory budget, and an idle containerd does not need a larger heap.
const GO_MEMORY = { GOGC: '25', GOMEMLIMIT: '24MiB' };

// `node down` answers once the API says NotReady (the lifecycle controller's verdict after the heartbeats stop),
// so a chart rendered right after it already sees the node down, as an operator would.
const untilNotReady = async (store: Store, name: string): Promise<void> => {
  const deadline = Date.now() + (NODE_GRACE_SECONDS + 5) * 1000;
  for (;;) {
    const object = store.get('nodes', undefined, name);
    if (!object || !conditionHolds(object, 'Ready') || Date.now() > deadline) return;
    await sleep(200);
  }
};

export const runClusterDaemon = async (dir: string, nodeCount: number): Promise<void> => {
  Object.assign(process.env, GO_MEMORY);
  const nodes = new Map<string, ClusterNode>();
  const controlPlane = await startControlPlane({
    podLogs: podLogWriter(() => [...nodes.values()]),
    log: process.env.AIRLOCK_CLUSTER_TRACE ? log : (line) => line.startsWith('internal') && log(line),
  });
  await writeFile(kubeconfigPath(dir), kubeconfigFor(controlPlane.url), { mode: 0o600 });
  const { store } = controlPlane;
  const api = { identity: controlPlane.identity, ...controlPlane.secure };
  const nodeFor = (name: string): ClusterNode => {
    checkNodeName(name);
    let node = nodes.get(name);
    if (!node) {
      node = { name, root: nodeRoot(dir, name), address: containerdSocket(dir, name) };
      nodes.set(name, node);
    }
    return node;
  };
  const status = (): ClusterStatus => ({
    kubeconfig: kubeconfigPath(dir),
    nodes: [...nodes.values()].map((node) => {
      const object = store.get('nodes', undefined, node.name);
      return {
        name: node.name,
        ready: Boolean(node.kubelet && object && conditionHolds(object, 'Ready')),
        containerd: node.address,
        root: node.root,
      };
    }),
  });
  const shutdown = async (): Promise<void> => {
    await Promise.all(
      [...nodes.values()].map((node) => stopNode(node).catch((error) => log(`${node.name}: ${error}`))),
    );
    await controlPlane.stop();
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const [, first, name, action] = (request.url ?? '/').split('/');
    if (request.method === 'GET' && first === 'status') return reply(response, 200, status());
    if (request.method === 'POST' && first === 'nodes' && name && action === 'add') {
      await bootNode(store, api, nodeFor(name), log);
      return reply(response, 200, status());
    }
    if (request.method === 'POST' && first === 'nodes' && name && action === 'down') {
      const node = nodes.get(name);
      if (!node) return reply(response, 404, { error: `no node ${name} in this cluster` });
      await haltNode(node);
      await untilNotReady(store, name);
      return reply(response, 200, status());
    }
    if (request.method === 'POST' && first === 'shutdown') {
      await shutdown();
      reply(response, 200, { stopped: true });
      setTimeout(() => process.exit(0), 50);
      return;
    }
    reply(response, 404, { error: `unknown control request ${request.method} ${request.url}` });
  };
  const control = createServer((request, response) => {
    handle(request, response).catch((error: unknown) =>
      reply(response, 500, { error: String(error instanceof Error ? error.message : error) }),
    );
  });
  await rm(controlSocket(dir), { force: true });
  await new Promise<void>((resolve) => control.listen(controlSocket(dir), resolve));
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void shutdown().finally(() => process.exit(0)));
  }
  log(`control plane up after ${Math.round(process.uptime() * 1000)} ms: ${controlPlane.url}`);
  const names = Array.from({ length: nodeCount }, (_, index) => `node-${index + 1}`);
  try {
    await Promise.all(names.map((name) => bootNode(store, api, nodeFor(name), log)));
  } catch (error) {
    await shutdown();
    throw error;
  }
  log(`cluster up: ${controlPlane.url}, nodes ${names.join(' ')}`);
};
