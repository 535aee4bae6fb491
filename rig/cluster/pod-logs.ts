// pods/log: the API server asks the kubelet of the pod's node, which reads the CRI log files (rig/pods).
// Errors come back as kubelet words them, as 400s: container not valid, waiting to start, no previous instance.
import { PodLogsError } from '../pods/index.ts';
import type { PodLogOptions, PodLogWriter } from './api/server.ts';
import { ApiError } from './api/status.ts';
import type { ClusterNode } from './node.ts';

const waitingMessage = (
  pod: { metadata: { name?: string }; spec?: { containers?: { name: string }[] } },
  container?: string,
): string =>
  `container "${container ?? pod.spec?.containers?.[0]?.name ?? ''}" in pod "${pod.metadata.name}" is waiting to start: ContainerCreating`;

const cleanOptions = (options: PodLogOptions) => ({
  container: options.container,
  previous: options.previous,
  timestamps: options.timestamps,
  tailLines: options.tailLines,
  limitBytes: options.limitBytes,
  sinceSeconds: options.sinceSeconds,
});

export const podLogWriter =
  (nodes: () => ClusterNode[]): PodLogWriter =>
  async (pod, options, response) => {
    const uid = pod.metadata.uid ?? '';
    const handle = nodes()
      .map((node) => node.kubelet?.pods.get(uid))
      .find(Boolean);
    if (!handle) throw new ApiError('BadRequest', waitingMessage(pod, options.container));
    try {
      if (!options.follow) {
        const text = await handle.logs(cleanOptions(options));
        response.writeHead(200, { 'Content-Type': 'text/plain' });
        response.end(text);
        return;
      }
      const abort = new AbortController();
      response.on('close', () => abort.abort());
      const chunks = handle.followLogs({ ...cleanOptions(options), signal: abort.signal });
      let started = false;
      for await (const chunk of chunks) {
        if (!started)
          response.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
        started = true;
        response.write(chunk);
      }
      if (!started) response.writeHead(200, { 'Content-Type': 'text/plain' });
      response.end();
    } catch (error) {
      if (error instanceof PodLogsError) throw new ApiError('BadRequest', error.message);
      throw error;
    }
  };
