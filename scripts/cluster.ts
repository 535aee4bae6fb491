// npm run cluster -- up --nodes N --dir DIR | status [--json] --dir DIR | node add|down NAME --dir DIR | down --dir DIR
import { parseArgs } from 'node:util';
import { describeError } from '../lib/errors.ts';
import {
  addNode,
  type ClusterStatus,
  clusterStatus,
  downNode,
  startCluster,
  stopCluster,
} from '../rig/cluster/index.ts';

const USAGE = `usage: npm run cluster -- up --nodes N --dir DIR
       npm run -s cluster -- status [--json] --dir DIR
       npm run cluster -- node add|down NAME --dir DIR
       npm run cluster -- down --dir DIR`;

const printStatus = (status: ClusterStatus, json: boolean): void => {
  if (json) {
    process.stdout.write(`${JSON.stringify(status)}\n`);
    return;
  }
  process.stdout.write(`kubeconfig ${status.kubeconfig}\n`);
  for (const node of status.nodes) {
    process.stdout.write(`${node.name}\t${node.ready ? 'Ready' : 'NotReady'}\t${node.containerd}\n`);
  }
};

const main = async (): Promise<number> => {
  const { values, positionals } = parseArgs({
    options: {
      dir: { type: 'string' },
      nodes: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  const [command, subcommand, name] = positionals;
  const dir = values.dir;
  if (!dir) throw new Error(`cluster: --dir DIR is required\n${USAGE}`);
  if (command === 'up')
    printStatus(await startCluster({ dir, nodes: Number(values.nodes ?? 1) }), values.json);
  else if (command === 'status') printStatus(await clusterStatus(dir), values.json);
  else if (command === 'down') await stopCluster(dir);
  else if (command === 'node' && subcommand === 'add' && name)
    printStatus(await addNode(dir, name), values.json);
  else if (command === 'node' && subcommand === 'down' && name)
    printStatus(await downNode(dir, name), values.json);
  else throw new Error(`cluster: unknown command ${positionals.join(' ') || '(none)'}\n${USAGE}`);
  return 0;
};

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${describeError(error)}\n`);
    process.exit(1);
  },
);
