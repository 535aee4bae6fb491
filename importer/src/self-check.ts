// The runtime's self-check, started while the module graph is evaluated: main.ts imports this module first, so
// the hashing (on a worker thread) begins before the rest of the bundle is evaluated, and overlaps it.
import { fileURLToPath } from 'node:url';
import { locateBundle, startBundleCheck } from '../../lib/bundle/self-check.ts';

/** The runtime this importer.mjs was started from, when it sits in an exported images directory. */
export const bundle = locateBundle(fileURLToPath(import.meta.url));
export const check = bundle ? startBundleCheck(bundle) : undefined;
