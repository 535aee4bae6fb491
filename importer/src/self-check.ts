// The runtime's self-check, started while the module graph is evaluated: main.ts imports this module first, so
// the hashing (on a worker thread) begins before the rest of the bundle is evaluated, and overlaps it. In an
// exported runtime the small entry file (entry.ts) evaluates this module before the importer is even compiled,
// and the importer's own copy of it takes over what that one started. In watch mode there is no check: the
// keeper's process only lists the directory, and each pass's importer checks itself.
import { fileURLToPath } from 'node:url';
import {
  type BundleCheck,
  type BundleLocation,
  locateBundle,
  startBundleCheck,
} from '../../lib/bundle/self-check.ts';
import { splitWatchArguments, type WatchSettings } from '../../lib/import/watch.ts';

interface Started {
  /** The runtime this importer was started from, when it sits in an exported images directory. */
  bundle: BundleLocation | undefined;
  /** --watch/--interval (AIRLOCK_WATCH, AIRLOCK_INTERVAL), or the one line that refuses them. */
  settings: WatchSettings | Error;
  check: BundleCheck | undefined;
}

const start = (): Started => {
  const bundle = locateBundle(fileURLToPath(import.meta.url));
  let settings: WatchSettings | Error;
  try {
    settings = splitWatchArguments(process.argv.slice(2), process.env);
  } catch (error) {
    settings = error as Error;
  }
  const watching = !(settings instanceof Error) && settings.watch;
  return { bundle, settings, check: bundle && !watching ? startBundleCheck(bundle) : undefined };
};

// One check per process, whichever copy of this module runs first.
const STARTED = Symbol.for('airlock.importer.started');
const registry = globalThis as { [STARTED]?: Started };
const started = registry[STARTED] ?? start();
registry[STARTED] = started;

export const { bundle, settings, check } = started;
