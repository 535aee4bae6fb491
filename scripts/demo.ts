#!/usr/bin/env -S node --import tsx
// node --import tsx, not npx tsx: npx does not pass SIGINT/SIGTERM on, and the clean-up on a signal matters.
// Never import this file from a test: Vite's import scanner reads the `--import` of the line above as a statement.
// npm run demo [-- --output DIR]: the whole air-gap flow on this machine, against throwaway daemons.
//   1. start a private registry, containerd and dockerd      5. verify with sha256sum -c SHA256SUMS
//   2. seed the registry with the chart's images              6. bootstrap the importer image on the node
//   3. build and push the importer image                      7. run the hook Job's pod (the importer)
//   4. run ./scripts/export-images.ts                         8. check what kubelet would find
// Everything it started is stopped at the end, on failure and on Ctrl-C; the archives stay in the output dir.
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
