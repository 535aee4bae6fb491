/**
 * A kubelet stand-in that runs Pods through the CRI of a node's containerd (host network only, nothing pulled).
 *
 * API
 * - `startPod(pod, { address, node, syncInterval?, backoff? }): PodHandle` — runs the pod (metadata.name and
 *   metadata.uid required) on the containerd at `address`. `node` is `{ name, root, ip?, resolver }`: hostPath `/p`
 *   is `<root>/p`; pod volumes live in `<root>/var/lib/kubelet/pods/<uid>`, logs in
 *   `<root>/var/log/pods/<ns>_<name>_<uid>/<container>/<attempt>.log`. `resolver` answers
 *   `configMap(ns, name)`, `secret(ns, name)` (API shapes, undefined when absent) and
 *   `serviceAccountToken({ namespace, serviceAccountName, audience, ... })`.
 * - `PodHandle`: `status()` (IPodStatus as kubelet reports it: phase, conditions, init/containerStatuses),
 *   `refresh()` (sync now), `waitFor(predicate, timeout)`, `onStatus(listener)`, `events()` (FailedMount,
 *   ErrImageNeverPull, Pulled/Created/Started, ...), `logs({ container, previous, tailLines, timestamps,
 *   limitBytes, sinceTime, sinceSeconds, stream })`, `followLogs(...)` (async iterator until the container
 *   exits), `stop(graceSeconds)` (containers and sandbox stopped, status and logs kept), `remove(graceSeconds)`.
 * - `cleanUpNodePods(address, root, nodeName?)`: stops and removes every kubelet-labelled sandbox on that
 *   containerd (only node `nodeName`'s when given) and the node's pod volumes and logs (`node down` / `down`).
 *   A handle whose sandbox was removed this way stops syncing (event SandboxChanged).
 * - `readCriLog(path, options)`, `followCriLog(path, options)`, `parseCriLog(text)`: the CRI log format as
 *   `kubectl logs` text.
 * - Errors: `PodLogsError` (kubelet's 400 messages for logs), `VolumeSetupError` (FailedMount message).
 * Related: `rig/cri.ts` (`criClient(address)`: typed RuntimeService/ImageService calls; `listImages`,
 * `imageStatus`), `rig/pause-image.ts` (`importPauseImage({ address, snapshotter })`, `importBuiltImage` for
 * factory-built test images), `rig/containerd.ts` (`startContainerd({ dir, address?, sandboxImage? })`, which
 * sets the pause image as sandbox_image and restrict_oom_score_adj).
 *
 * Pods behave as on a kubelet with no CNI: every pod shares the node's network (podIP = node IP), whatever
 * `hostNetwork` says. Not covered: probes, lifecycle hooks, resource limits, sidecar (restartable) init
 * containers, sandbox re-creation after the pause process dies, log rotation.
 */
export { PodLogsError, startPod } from './handle.ts';
export { followCriLog, formatLog, type LogEntry, parseCriLog, readCriLog } from './logs.ts';
export { cleanUpNodePods } from './node.ts';
export { podLogDirectory, sandboxConfig } from './runner.ts';
export type * from './types.ts';
export { nodePath, podDirectory, VolumeSetupError } from './volumes.ts';
