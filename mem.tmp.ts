import { openVerifiedTar } from './lib/archive/index.ts';
const { tar, verified } = await openVerifiedTar(process.argv[2]!);
let n = 0;
for await (const c of tar) n += (c as Buffer).length;
await verified;
process.stderr.write(`bytes ${n} maxrss ${process.resourceUsage().maxRSS} KiB\n`);
