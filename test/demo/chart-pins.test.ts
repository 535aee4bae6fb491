import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { multiArchIndex } from '../../rig/factory/index.ts';

// The chart installs with its defaults only if the worker digest it pins is the one the demo's factory builds.
describe('demo chart defaults', () => {
  it("pins the worker to the digest of the demo's factory-built worker image", async () => {
    const values = parse(await readFile('helm/values.yaml', 'utf8')) as {
      worker: { image: { digest: string } };
    };
    const worker = await multiArchIndex({ name: 'demo-worker' });
    expect(values.worker.image.digest).toBe(worker.digest);
    const chart = await readFile('helm/Chart.yaml', 'utf8');
    expect(chart).toContain(`airlock/demo-worker@${worker.digest}`);
  });
});
