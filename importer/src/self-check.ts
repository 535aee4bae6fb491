// The runtime's self-check, started while the module graph is evaluated: main.ts imports this module first, so
// the hashing (on a worker thread) begins before the rest of the bundle is evaluated, and overlaps it. In watch
// mode there is none: the keeper's process only lists the directory, and each pass's importer checks itself.
import { fileURLToPath } from 'node:url';
import { locateBundle, startBundleCheck } from '../../lib/bundle/self-check.ts';
import { splitWatchArguments, type WatchSettings } from '../../lib/import/watch.ts';

/** The runtime this importer.mjs was started from, when it sits in an exported images directory. */
export const bundle = locateBundle(fileURLToPath(import.meta.url));

/** --watch/--interval (AIRLOCK_WATCH, AIRLOCK_INTERVAL), or the one line that refuses them. */
export const settings: WatchSettings | Error = (() => {
  try {
    return splitWatchArguments(process.argv.slice(2), process.env);
  } catch (error) {
    return error as Error;
  }
})();

const watching = !(settings instanceof Error) && settings.watch;
export const check = bundle && !watching ? startBundleCheck(bundle) : undefined;
