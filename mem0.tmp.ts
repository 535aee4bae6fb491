import './lib/archive/index.ts';
process.stderr.write(`baseline maxrss ${process.resourceUsage().maxRSS} KiB\n`);
