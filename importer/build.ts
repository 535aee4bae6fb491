// Bundles the importer into one file that the importer image runs with a plain `node`, no node_modules; and the
// small entry file an exported runtime starts it through (src/entry.ts), which runs the bundle from beside it.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { REQUIRE_BANNER, withoutZodLocales } from '../lib/cli/bundling.ts';

const importerDir = dirname(fileURLToPath(import.meta.url));

export const IMPORTER_ENTRY = resolve(importerDir, 'src/main.ts');
export const IMPORTER_BUNDLE = resolve(importerDir, 'dist/importer.mjs');
export const IMPORTER_ENTRY_STUB = resolve(importerDir, 'src/entry.ts');

/**
 * Writes the bundle to `outFile` and returns its path. The file is replaced in one rename, so a
 * concurrent `docker build` never copies half a bundle.
 */
export const buildImporterBundle = async (
  outFile: string = IMPORTER_BUNDLE,
  entryPoint: string = IMPORTER_ENTRY,
): Promise<string> => {
  const result = await build({
    entryPoints: [entryPoint],
    bundle: true,
    platform: 'node',
    format: 'esm',
    // Debian 12's nodejs is 18: a base image built from Debian packages runs the bundle too.
    target: 'node18',
    banner: { js: REQUIRE_BANNER },
    plugins: [withoutZodLocales],
    // Readable stack traces from a node's log beat a few hundred kilobytes.
    minify: false,
    sourcemap: false,
    legalComments: 'inline',
    logLevel: 'warning',
    // Lets an entry outside the repository (a test's scratch file) resolve the repository's packages.
    nodePaths: [resolve(importerDir, '../node_modules')],
    write: false,
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error(`esbuild produced no output for ${entryPoint}`);
  await mkdir(dirname(outFile), { recursive: true });
  const partial = `${outFile}.${randomBytes(4).toString('hex')}.partial`;
  try {
    await writeFile(partial, output.contents);
    await rename(partial, outFile);
  } finally {
    await rm(partial, { force: true });
  }
  return outFile;
};

/** The exported runtime's entry file, at `outFile`; it imports the bundle from IMPORTER_MAIN_FILE beside it. */
export const buildImporterEntry = (outFile: string): Promise<string> =>
  buildImporterBundle(outFile, IMPORTER_ENTRY_STUB);

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const outFile = await buildImporterBundle(process.argv[2] ? resolve(process.argv[2]) : undefined);
    process.stderr.write(`importer bundle: ${outFile}\n`);
  } catch (error) {
    // esbuild has already printed each error with its file and line.
    process.stderr.write(`importer bundle failed: ${(error as Error).message.split('\n')[0]}\n`);
    process.exitCode = 1;
  }
}
