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
    timeout: 14 * 60_000,
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
  it('exports with the bundle, installs the chart on two nodes and shows every image the pods use as present on each', async () => {
    const output = freshOutput();
    try {
      const result = await startDemo(output);
      const log = String(result.all);
      expect(result.exitCode, log).toBe(0);
      expect(log).toMatch(/^1\. Start a throwaway registry and Helm$/m);
      expect(log).toContain('--importer bundle');
      expect(log).toContain(
        '$ helm install demo ./helm -n demo --create-namespace --set imagePull.enabled=true',
      );
      expect(log).toContain(
        '$ kubectl logs -n demo -l app.kubernetes.io/component=image-import --tail=-1 --prefix',
      );
      // kubectl's --prefix names each node's Job pod; each importer reports its node and no failure.
      for (const node of ['node-1', 'node-2']) {
        expect(log).toMatch(
          new RegExp(`"airlock":"import-summary","node":"${node}","runtime":"containerd".*"failed":0`),
        );
        for (const image of CHART_IMAGES) {
          expect(log).toMatch(new RegExp(`^ {5}present {2}${node} {2}${image}`, 'm'));
        }
      }
      expect(log).not.toContain('MISSING');
      // No importer image: nothing built, pushed, exported or loaded.
      expect(log).not.toMatch(/airlock_importer_|docker push|images import/);
      expect(log).toMatch(
        /^demo passed in [\d.]+ s: the 4 images the chart's pods use are in containerd \(k8s\.io\) on all 2 nodes$/m,
      );
      expect(log).toContain(`archives kept in ${output}/`);

      const manifest = JSON.parse(await readFile(join(output, 'images.json'), 'utf8'));
      const references: string[] = manifest.images.map((image: { reference: string }) => image.reference);
      expect(references.sort()).toEqual([
        'docker.io/airlock/demo-init:1.0.0',
        'docker.io/airlock/demo-metrics:1.0.0',
        'docker.io/airlock/demo-web:1.0.0',
        expect.stringMatching(/^docker\.io\/airlock\/demo-worker@sha256:[0-9a-f]{64}$/),
      ]);
      const sums = await readFile(join(output, 'SHA256SUMS'), 'utf8');
      // One line per archive, then the importer runtime's files (--importer bundle).
      const lines = sums.trim().split('\n');
      expect(lines.filter((line) => !/ {2}importer\//.test(line))).toHaveLength(4);
      expect(lines.some((line) => line.endsWith('  importer/linux-amd64/importer.mjs'))).toBe(true);

      const workDir = rigDirOf(log);
      expect(await exists(workDir)).toBe(false);
      expect(await processesUsing(workDir)).toEqual([]);
      // The cluster's daemon, containerds and shims run with paths under its directory.
      const clusterDir = /containerd at (\S+)\/nodes\//.exec(log)?.[1];
      expect(clusterDir, log).toBeDefined();
      expect(await processesUsing(clusterDir ?? '')).toEqual([]);
      expect(await exists(clusterDir ?? '')).toBe(false);
    } finally {
      await rm(output, { recursive: true, force: true });
    }
  }, 900_000);

  it('stops its registry and cluster and exits 130 when interrupted', async () => {
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
      expect(log).toContain('interrupted: stopping the throwaway registry and cluster');
      expect(log).toMatch(/^stopped the throwaway rig in [\d.]+ s$/m);
      const workDir = rigDirOf(log);
      expect(await exists(workDir)).toBe(false);
      expect(await processesUsing(workDir)).toEqual([]);
    } finally {
      await rm(output, { recursive: true, force: true });
    }
  }, 600_000);
});
