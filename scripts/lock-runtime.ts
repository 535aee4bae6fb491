#!/usr/bin/env -S npx tsx
// Re-resolves the importer runtime's sources (Debian packages, Node.js from npm) into lib/bundle/runtime.lock.json.
//   npm run runtime:lock [-- --node 20.20.2]
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runtimeCacheDir } from '../lib/bundle/cache.ts';
import { RUNTIME_LOCK_FILE, writeRuntimeLock } from '../lib/bundle/lock.ts';
import { resolveRuntimeLock } from '../lib/bundle/resolve-lock.ts';

const main = async (): Promise<void> => {
  const { values } = parseArgs({ options: { node: { type: 'string' } } });
  const lock = await resolveRuntimeLock({
    cacheDir: runtimeCacheDir(),
    ...(values.node ? { nodeVersion: values.node } : {}),
    onWarning: (line) => process.stderr.write(`warning: ${line}\n`),
  });
  await writeRuntimeLock(lock);
  process.stderr.write(`runtime lock: ${RUNTIME_LOCK_FILE}\n`);
};

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main().catch((error: Error) => {
    process.stderr.write(`runtime lock failed: ${error.message}\n`);
    process.exitCode = 1;
  });
}
