import { defineConfig } from 'vitest/config';

// A quick loop for tests that need no rig component: `npx vitest run --config vitest.unit.config.ts <files>`.
// `npm test` always runs everything on the real rig.
export default defineConfig({
  test: { include: ['test/**/*.test.ts'], testTimeout: 30_000 },
});
