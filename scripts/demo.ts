#!/usr/bin/env -S node --import tsx
// node --import tsx, not npx tsx: npx does not pass SIGINT/SIGTERM on, and the clean-up on a signal matters.
// Never import this file from a test: Vite's import scanner reads the `--import` of the line above as a statement.
// npm run demo [-- --output DIR]: the whole air-gap flow on this machine, against throwaway daemons.
//   1. start a private registry and Helm                     5. start a two-node cluster stand-in
//   2. seed the registry with the chart's images              6. copy images/ to every node
//   3. run ./scripts/export-images.ts --importer bundle       7. helm install: the hook imports on every node
//   4. verify with sha256sum -c SHA256SUMS                    8. kubectl logs of the import Jobs
//                                                             9. check what kubelet would find on each node
// No importer image is built, pushed or loaded. Everything it started is stopped at the end, on failure and on
// Ctrl-C; the archives stay in the output dir.
import { parseArgs } from 'node:util';
import { runDemo } from './demo/run.ts';

const { values } = parseArgs({ options: { output: { type: 'string' } } });
const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // A second Ctrl-C leaves at once, without waiting for the daemons to stop.
    if (controller.signal.aborted) process.exit(130);
    controller.abort(new Error(`interrupted by ${signal}`));
  });
}
const result = await runDemo({
  signal: controller.signal,
  ...(values.output ? { output: values.output } : {}),
});
process.exitCode = result.exitCode;
