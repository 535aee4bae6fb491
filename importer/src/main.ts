// The hook Job's entry point; also runs on a host with `npm run importer -- --dir images`.
// First, on its own: modules are evaluated in import order, and the self-check should start before the others.
import './self-check.ts';
import { join } from 'node:path';
import { bundleLauncher } from '../../lib/bundle/self-check.ts';
import { describeError } from '../../lib/errors.ts';
import { useProgramLauncher } from '../../lib/exec/launcher.ts';
import type { ImportIo } from '../../lib/import/command.ts';
import { runWatchCommand, WATCH_USAGE } from '../../lib/import/watch.ts';
import type { ImporterCommand } from '../../lib/import/watch-child.ts';
import { bundle, check, settings } from './self-check.ts';

const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => controller.abort(new Error(`interrupted by ${signal}`)));
}

// Started from an exported runtime (importer/linux-<arch>/importer.mjs): ctr is checked against SHA256SUMS
// before it first runs, and started through the runtime's own loader; the other files are checked while the
// importer detects the runtime and lists the archives, and before it prints or imports anything.
const launch = async (): Promise<boolean> => {
  if (!bundle) return true;
  try {
    await check?.first;
    useProgramLauncher(bundleLauncher(bundle));
    return true;
  } catch (error) {
    process.stdout.write(`error: ${describeError(error)}\n`);
    return false;
  }
};

/** This same importer, run once: the bundle's node (through its loader), or this process's node and flags. */
const oneShotImporter = (): ImporterCommand =>
  bundle
    ? { file: 'node', args: [join(bundle.dir, 'importer.mjs')] }
    : { file: process.execPath, args: [...process.execArgv, process.argv[1] ?? ''] };

const main = async (): Promise<number> => {
  if (settings instanceof Error) {
    process.stderr.write(`error: ${describeError(settings)}\n`);
    return 2;
  }
  if (!(await launch())) return 1;
  const io: ImportIo = {
    stdout: process.stdout,
    stderr: process.stderr,
    signal: controller.signal,
    ...(check ? { ready: check.all } : {}),
  };
  // --watch (AIRLOCK_WATCH) keeps a small process running as the keeper's main container; without it, one pass.
  if (settings.watch) return runWatchCommand(settings.rest, io, settings.intervalSeconds, oneShotImporter());
  // Loaded only here, so that a watching keeper never holds the import machinery.
  const { runImportCommand } = await import('../../lib/import/command.ts');
  const code = await runImportCommand(settings.rest, io);
  if (settings.rest.some((argument) => argument === '--help' || argument === '-h')) {
    process.stdout.write(WATCH_USAGE);
  }
  return code;
};

process.exitCode = await main();
