// `npm run demo` as a newcomer runs it: a subprocess with its own throwaway rig (not the test run's), judged by
// its exit code, the lines it prints, the archives it leaves behind and the daemons it must not leave running.
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { REPOSITORY_ROOT } from '../../scripts/build-importer-image.ts';

const CHART_IMAGES = [
  'airlock/demo-init:1.0.0',
  'airlock/demo-web:1.0.0',
  'airlock/demo-worker@sha256:',
  'airlock/demo-metrics:1.0.0',
];

const startDemo = (output: string) =>
  execa(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--output', output], {
    cwd: REPOSITORY_ROOT,
    all: true,
    reject: false,
    stdin: 'ignore',
    env: { CI: 'true' },
    timeout: 10 * 60_000,
  });

const rigDirOf = (log: string): string => {
  const workDir = /workDir: (\S+)/.exec(log)?.[1];
  if (!workDir) throw new Error(`the demo printed no rig workDir:\n${log}`);
  return workDir;
};

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** Processes whose command line names the directory: the rig's daemons run with their paths in it. */
const processesUsing = async (dir: string): Promise<string[]> => {
  const found: string[] = [];
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(dir)) found.push(`${pid}: ${cmdline.replaceAll('\0', ' ')}`);
  }
  return found;
};

const freshOutput = () => join(tmpdir(), `airlock-demo-test-${process.pid}-${Date.now()}`);

describe('npm run demo', () => {
  it('exports the chart, imports it on the node and shows every image the pods use as present', async () => {
    const output = freshOutput();
    try {
      const result = await startDemo(output);
      const log = String(result.all);
      expect(result.exitCode, log).toBe(0);
      expect(log).toMatch(/^1\. Start a throwaway registry/m);
      expect(log).toMatch(/^8\. Check: the images the chart's pods use are on the node$/m);
      for (const image of CHART_IMAGES) expect(log).toMatch(new RegExp(`^ {5}present {2}${image}`, 'm'));
      expect(log).not.toContain('MISSING');
      expect(log).toMatch(/"airlock":"import-summary","node":"demo-node","runtime":"containerd".*"failed":0/);
      expect(log).toMatch(/^demo passed in [\d.]+ s: 4 of 4 images the chart's pods use are in containerd/m);
      expect(log).toContain(`archives kept in ${output}/`);

      const manifest = JSON.parse(await readFile(join(output, 'images.json'), 'utf8'));
      const references: string[] = manifest.images.map((image: { reference: string }) => image.reference);
      expect(references.sort()).toEqual([
        'docker.io/airlock/demo-init:1.0.0',
        'docker.io/airlock/demo-metrics:1.0.0',
        'docker.io/airlock/demo-web:1.0.0',
        expect.stringMatching(/^docker\.io\/airlock\/demo-worker@sha256:[0-9a-f]{64}$/),
        'docker.io/airlock/importer:0.1.0',
      ]);
      const sums = await readFile(join(output, 'SHA256SUMS'), 'utf8');
      // One line per archive, then the importer runtime's files (the exporter adds them when the hook renders).
      const lines = sums.trim().split('\n');
      expect(lines.filter((line) => !/ {2}importer\//.test(line))).toHaveLength(5);
      expect(lines.some((line) => line.endsWith('  importer/linux-amd64/importer.mjs'))).toBe(true);

      const workDir = rigDirOf(log);
      expect(await exists(workDir)).toBe(false);
      expect(await processesUsing(workDir)).toEqual([]);
    } finally {
      await rm(output, { recursive: true, force: true });
    }
  }, 600_000);

  it('stops its registry, containerd and dockerd and exits 130 when interrupted', async () => {
    const output = freshOutput();
    try {
      const demo = startDemo(output);
      let seen = '';
      await new Promise<void>((resolve, reject) => {
        demo.all?.on('data', (chunk: Buffer) => {
          seen += chunk.toString();
          // Interrupt while the rig is up and work is under way.
          if (/^2\. Seed the registry/m.test(seen)) resolve();
        });
        demo.catch(reject);
        void demo.then(() => reject(new Error(`the demo ended before step 2:\n${seen}`)));
      });
      demo.kill('SIGINT');
      const result = await demo;
      const log = String(result.all);
      expect(result.exitCode, log).toBe(130);
      expect(log).toContain('interrupted: stopping the throwaway registry, containerd and dockerd');
      expect(log).toMatch(/^stopped the throwaway rig in [\d.]+ s$/m);
      const workDir = rigDirOf(log);
      expect(await exists(workDir)).toBe(false);
      expect(await processesUsing(workDir)).toEqual([]);
    } finally {
      await rm(output, { recursive: true, force: true });
    }
  }, 600_000);
});
