// The hook Job's entry point; also runs on a host with `npm run importer -- --dir images`.
// First, on its own: modules are evaluated in import order, and the self-check should start before the others.
import './self-check.ts';
import { bundleLauncher } from '../../lib/bundle/self-check.ts';
import { describeError } from '../../lib/errors.ts';
import { useProgramLauncher } from '../../lib/exec/launcher.ts';
import { runImportCommand } from '../../lib/import/command.ts';
import { bundle, check } from './self-check.ts';

const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => controller.abort(new Error(`interrupted by ${signal}`)));
}

// Started from an exported runtime (importer/linux-<arch>/importer.mjs): ctr is checked against SHA256SUMS
// before it first runs, and started through the runtime's own loader; the other files are checked while the
// importer detects the runtime and lists the archives, and before it prints or imports anything.
let ready = true;
if (bundle && check) {
  try {
    await check.first;
    useProgramLauncher(bundleLauncher(bundle));
  } catch (error) {
    process.stdout.write(`error: ${describeError(error)}\n`);
    process.exitCode = 1;
    ready = false;
  }
}
if (ready) {
  process.exitCode = await runImportCommand(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    signal: controller.signal,
    ...(check ? { ready: check.all } : {}),
  });
}
