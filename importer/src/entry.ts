// The exported runtime's entry point (importer/linux-<arch>/importer.mjs): it starts the runtime's self-check and
// then loads the importer itself from importer-main.mjs. V8 compiles a file whole before it runs any of it, so a
// check started from inside the 1.2 MB importer would first wait out that compile; started from this small file,
// the hashing on the worker overlaps it. The importer finds the check already running and uses it.
import './self-check.ts';
import { IMPORTER_MAIN_FILE } from '../../lib/bundle/platforms.ts';

// The file beside this one (IMPORTER_MAIN_FILE), named at run time: the bundler leaves it to be loaded then.
await import(new URL(`./${IMPORTER_MAIN_FILE}`, import.meta.url).href);
