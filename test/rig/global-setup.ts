import type { TestProject } from 'vitest/node';
import { describeRig, startRig } from '../../rig/rig.ts';

/**
 * vitest global setup: starts the whole rig once for all test files, hands its addresses to them through
 * `inject('rig')`, and stops it after the last test, passed or failed.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = performance.now();
  const rig = await startRig();
  const total = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(`rig ready in ${total} s\n${describeRig(rig.info, rig.startupMs)}\n`);
  project.provide('rig', rig.info);
  return () => rig.stop();
}
