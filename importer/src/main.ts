// The hook Job's entry point; also runs on a host with `npm run importer -- --dir images`.
import { fileURLToPath } from 'node:url';
import { bundleLauncher, locateBundle, verifyBundle } from '../../lib/bundle/self-check.ts';
import { describeError } from '../../lib/errors.ts';
import { useProgramLauncher } from '../../lib/exec/launcher.ts';
import { runImportCommand } from '../../lib/import/command.ts';

const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => controller.abort(new Error(`interrupted by ${signal}`)));
}

// Started from an exported runtime (importer/linux-<arch>/importer.mjs): check every runtime file before anything
// runs, and start ctr through the runtime's own loader.
const bundle = locateBundle(fileURLToPath(import.meta.url));
let verified = true;
if (bundle) {
  try {
    await verifyBundle(bundle);
    useProgramLauncher(bundleLauncher(bundle));
  } catch (error) {
    process.stdout.write(`error: ${describeError(error)}\n`);
    process.exitCode = 1;
    verified = false;
  }
}
if (verified) {
  process.exitCode = await runImportCommand(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    signal: controller.signal,
  });
}
