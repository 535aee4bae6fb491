import { z } from 'zod';

/** What `cluster status --json` prints (contract 3). */
export const ClusterStatus = z.object({
  kubeconfig: z.string(),
  nodes: z.array(
    z.object({ name: z.string(), ready: z.boolean(), containerd: z.string(), root: z.string() }),
  ),
});
export type ClusterStatus = z.infer<typeof ClusterStatus>;
