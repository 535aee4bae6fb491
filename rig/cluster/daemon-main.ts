// Entry point of the detached cluster daemon: `node --import tsx rig/cluster/daemon-main.ts DIR NODES`.
import { runClusterDaemon } from './daemon.ts';

const [dir, nodes] = process.argv.slice(2);
if (!dir || !nodes) {
  process.stderr.write('usage: daemon-main.ts DIR NODES\n');
  process.exit(2);
}
runClusterDaemon(dir, Number(nodes)).catch((error: unknown) => {
  process.stderr.write(`cluster daemon failed: ${error instanceof Error ? error.stack : error}\n`);
  process.exit(1);
});
