// The daemon runs as one esbuild bundle under plain node: no TypeScript loader thread (tsx's hooks run in a
// second V8 isolate), which keeps the daemon's RSS inside the stand-in's memory budget.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ENTRY = fileURLToPath(new URL('./daemon-main.ts', import.meta.url));

// Modules find files beside themselves (cri.proto, caches) through import.meta.url: keep each one's own URL.
const keepModuleUrls: Plugin = {
  name: 'keep-module-urls',
  setup(context) {
    context.onLoad({ filter: /\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const url = JSON.stringify(pathToFileURL(args.path).href);
      return { contents: source.replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
};

/** Bundles the daemon into DIR/daemon.mjs and returns its path. */
export const bundleDaemon = async (dir: string): Promise<string> => {
  const outfile = join(dir, 'daemon.mjs');
  await build({
    entryPoints: [ENTRY],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    plugins: [keepModuleUrls],
    // CommonJS dependencies call require(); give the ESM bundle one.
    banner: {
      js: "import { createRequire as airlockRequire } from 'node:module'; const require = airlockRequire(import.meta.url);",
    },
    logLevel: 'silent',
  });
  return outfile;
};
