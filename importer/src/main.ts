// The hook Job's entry point; also runs on a host with `npm run importer -- --dir images`.
// First, on its own: modules are evaluated in import order, and the self-check should start before the others.
import './self-check.ts';
import { bundleLauncher } from '../../lib/bundle/self-check.ts';
import { describeError } from '../../lib/errors.ts';
import { useProgramLauncher } from '../../lib/exec/launcher.ts';
import { runImportCommand } from '../../lib/import/command.ts';
import {
  runWatchCommand,
  splitWatchArguments,
  WATCH_USAGE,
  type WatchSettings,
} from '../../lib/import/watch.ts';
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
// --watch (AIRLOCK_WATCH) keeps the importer running as the keeper's main container; without it, one pass.
let settings: WatchSettings | undefined;
try {
  settings = splitWatchArguments(process.argv.slice(2), process.env);
} catch (error) {
  process.stderr.write(`error: ${describeError(error)}\n`);
  process.exitCode = 2;
}
if (ready && settings) {
  const io = {
    stdout: process.stdout,
    stderr: process.stderr,
    signal: controller.signal,
    ...(check ? { ready: check.all } : {}),
  };
  process.exitCode = settings.watch
    ? await runWatchCommand(settings.rest, io, settings.intervalSeconds)
    : await runImportCommand(settings.rest, io);
  if (!settings.watch && settings.rest.some((argument) => argument === '--help' || argument === '-h')) {
    process.stdout.write(WATCH_USAGE);
  }
}
