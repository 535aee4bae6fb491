// Starts an operator script (`node lib/cli/launch.mjs NAME ARGS…` runs scripts/NAME.ts with ARGS), which the
// scripts' own first lines do: from its bundle in dist/ when the bundle is current, else from the TypeScript
// through tsx. Plain JavaScript with node's built-ins only, because it runs before any loader: loading tsx alone
// costs more than the whole `--help` of a bundle.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The sha256 of a file, or null when it is absent (as lib/cli/build.ts records an absent input). */
const fileDigest = (path) => {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return null;
  }
};

/**
 * True when dist/NAME.mjs was built from exactly the files there are now: every source of the bundle, the
 * lockfiles and the build recipe hash as dist/stamp.json recorded them, in this checkout. Content, not mtimes:
 * a checkout or a `touch` changes mtimes without changing code, and an edit that keeps the mtime must still
 * count. Anything unexpected (no stamp, a stamp of another shape) means not current.
 */
const bundleIsCurrent = (name) => {
  if (!existsSync(join(root, 'dist', `${name}.mjs`))) return false;
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(join(root, 'dist', 'stamp.json'), 'utf8'));
  } catch {
    return false;
  }
  if (stamp?.root !== root || typeof stamp.inputs !== 'object' || stamp.inputs === null) return false;
  const inputs = Object.entries(stamp.inputs);
  if (!inputs.some(([path]) => path === `scripts/${name}.ts`)) return false;
  for (const [path, digest] of inputs) if (fileDigest(join(root, path)) !== digest) return false;
  return true;
};

const name = process.argv[2];
const script = join(root, 'scripts', `${name}.ts`);
if (!name || !/^[a-z][a-z-]*$/.test(name) || !existsSync(script)) {
  process.stderr.write(`lib/cli/launch.mjs: no script scripts/${name}.ts to run\n`);
  process.exit(2);
}
// The script sees the command line node would give it if it ran the script itself: argv[1] is its path.
process.argv.splice(1, 2, script);

if (bundleIsCurrent(name)) {
  await import(pathToFileURL(join(root, 'dist', `${name}.mjs`)).href);
} else {
  // What `node --import tsx` does, after the fact: tsx's hooks serve the TypeScript imported from here on.
  await import('tsx');
  await import(pathToFileURL(script).href);
}
