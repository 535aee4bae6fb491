// `npm run bench`: export and import figures against the real rig, with the budgets' verdicts. See docs/benchmarks.md.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeError } from '../lib/errors.ts';
import { describeRig, startRig } from '../rig/rig.ts';
import { formatReport } from './report.ts';
import { BENCH_USAGE, readSettings } from './settings.ts';
import { runSuite } from './suite.ts';

const settings = readSettings(process.argv.slice(2));
if (!settings) {
  process.stdout.write(BENCH_USAGE);
  process.exit(0);
}

const started = performance.now();
const step = (message: string) =>
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);

step('starting the rig (registry, containerd, dockerd, helm)');
const rig = await startRig({ components: ['registry', 'containerd', 'docker', 'helm'] });
const dir = await mkdtemp(join(tmpdir(), 'bench-'));
let stopping: Promise<void> | undefined;
const cleanUp = () => {
  stopping ??= Promise.allSettled([rig.stop(), rm(dir, { recursive: true, force: true })]).then(
    () => undefined,
  );
  return stopping;
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    step(`${signal}: stopping the rig`);
    void cleanUp().finally(() => process.exit(130));
  });
}

try {
  process.stderr.write(`${describeRig(rig.info, rig.startupMs)}\n`);
  const results = await runSuite(rig.info, dir, settings, step);
  process.stdout.write(`\n${formatReport(results, settings.markdown)}\n`);
  if (settings.jsonFile) await writeFile(settings.jsonFile, `${JSON.stringify(results, null, 2)}\n`);
} catch (error) {
  process.stderr.write(`bench failed: ${describeError(error)}\n`);
  process.exitCode = 1;
} finally {
  step('stopping the rig');
  await cleanUp();
}
