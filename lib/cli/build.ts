// Bundles the operator scripts (scripts/export-images.ts, scripts/push-images.ts) into dist/, so that their
// start-up is node's alone: no TypeScript loader, no transpiling. `npm ci` runs this in its `prepare` step;
// lib/cli/launch.mjs runs a bundle only while the stamp written here still matches the sources.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin, transform } from 'esbuild';
import { REQUIRE_BANNER, withoutZodLocales } from './bundling.ts';

export const REPOSITORY_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The scripts that get a bundle: `scripts/<name>.ts` -> `dist/<name>.mjs`. */
export const BUNDLED_SCRIPTS = ['export-images', 'push-images'] as const;

/** Files outside the module graph whose change makes every bundle stale: the dependencies and this recipe. */
const EXTRA_STAMP_INPUTS = [
  'package.json',
  'package-lock.json',
  'node_modules/.package-lock.json',
  'lib/cli/build.ts',
  'lib/cli/bundling.ts',
];

/**
 * Our modules find files next to themselves (the runtime lock, the importer's sources, the cache) through
 * `import.meta.url`; in a bundle that would name the bundle. Each keeps its own source file's URL instead, so
 * the bundle only runs in the checkout it was built in (the stamp records the root).
 */
const keepModuleUrls = (root: string): Plugin => ({
  name: 'keep-module-urls',
  setup(pluginBuild) {
    pluginBuild.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (relative(root, args.path).startsWith('node_modules')) return undefined;
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta')) return undefined;
      // A real transform, not a text replacement: `import.meta.url` inside a string (a banner) stays as it is.
      const result = await transform(source, {
        loader: 'ts',
        format: 'esm',
        sourcefile: args.path,
        define: { 'import.meta.url': JSON.stringify(pathToFileURL(args.path).href) },
      });
      return { contents: result.code, loader: 'js', resolveDir: dirname(args.path) };
    });
  },
});

export interface BundleStamp {
  /** The checkout the bundles were built in; they refer to its files by absolute path. */
  root: string;
  /** Every local source of the bundles and EXTRA_STAMP_INPUTS, relative to root -> sha256 (null: absent). */
  inputs: Record<string, string | null>;
}

const fileDigest = async (path: string): Promise<string | null> => {
  try {
    return createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
  } catch {
    return null;
  }
};

/** Writes `path` under a temporary name and renames it, so that a concurrent launch never reads half a file. */
const writeWhole = async (path: string, contents: string | Uint8Array): Promise<void> => {
  const partial = `${path}.${randomBytes(4).toString('hex')}.partial`;
  try {
    await writeFile(partial, contents);
    await rename(partial, path);
  } finally {
    await rm(partial, { force: true });
  }
};

/**
 * Builds every script of BUNDLED_SCRIPTS into `<root>/dist` and writes `dist/stamp.json` last: a launch that
 * finds the stamp finds the bundles it describes. Returns the stamp.
 */
export const buildScriptBundles = async (checkout: string = REPOSITORY_ROOT): Promise<BundleStamp> => {
  // The launcher compares the recorded root with a resolved path: no trailing slash, no `..`.
  const root = resolve(checkout);
  const distDir = join(root, 'dist');
  const stampFile = join(distDir, 'stamp.json');
  // A build that fails half-way must not leave an older stamp vouching for newer bundles.
  await rm(stampFile, { force: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: BUNDLED_SCRIPTS.map((name) => ({ in: `scripts/${name}.ts`, out: name })),
    bundle: true,
    // Code shared by the scripts, and what a run loads only on demand (import()), goes into chunks.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: { js: REQUIRE_BANNER },
    // esbuild itself ships a native binary: the exporter builds the importer's bundle with the installed one.
    external: ['esbuild'],
    plugins: [keepModuleUrls(root), withoutZodLocales],
    metafile: true,
    minify: false,
    legalComments: 'inline',
    logLevel: 'warning',
    write: false,
    outdir: distDir,
  });
  await rm(distDir, { recursive: true, force: true });
  for (const output of result.outputFiles) {
    await mkdir(dirname(output.path), { recursive: true });
    await writeWhole(output.path, output.contents);
  }
  const sources = Object.keys(result.metafile.inputs).filter((path) => !path.startsWith('node_modules/'));
  const inputs: Record<string, string | null> = {};
  for (const path of [...sources, ...EXTRA_STAMP_INPUTS].sort())
    inputs[path] = await fileDigest(join(root, path));
  const stamp: BundleStamp = { root, inputs };
  await writeWhole(stampFile, `${JSON.stringify(stamp, null, 2)}\n`);
  return stamp;
};

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const stamp = await buildScriptBundles();
    process.stderr.write(
      `script bundles: ${BUNDLED_SCRIPTS.map((name) => `dist/${name}.mjs`).join(', ')} (${Object.keys(stamp.inputs).length} sources stamped)\n`,
    );
  } catch (error) {
    // esbuild has already printed each error with its file and line.
    process.stderr.write(`script bundles failed: ${(error as Error).message.split('\n')[0]}\n`);
    process.exitCode = 1;
  }
}
