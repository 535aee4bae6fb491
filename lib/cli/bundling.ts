// What every esbuild bundle of airlock shares: the operator scripts' (lib/cli/build.ts) and the importer's
// (importer/build.ts).
import type { Plugin } from 'esbuild';

/** Some dependencies are CommonJS and call require() for Node built-ins; an ES module has no require of its own. */
export const REQUIRE_BANNER = [
  "import { createRequire as __airlockCreateRequire } from 'node:module';",
  'const require = __airlockCreateRequire(import.meta.url);',
].join('\n');

const EMPTY = 'airlock-empty';

/**
 * zod's core, classic and mini builds re-export all 64 of its locales (`z.locales`, 370 KB of JavaScript), which every
 * start would compile. Airlock reads none of them: the classic build installs English from its own file, and
 * discovery imports that file directly. The re-export becomes an empty module.
 */
export const withoutZodLocales: Plugin = {
  name: 'without-zod-locales',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]v4[\\/](?:classic|core|mini)[\\/]/.test(args.importer)
        ? { path: 'zod-locales', namespace: EMPTY }
        : undefined,
    );
    pluginBuild.onLoad({ filter: /.*/, namespace: EMPTY }, () => ({ contents: 'export {};', loader: 'js' }));
  },
};
