// The whole air-gap flow on one machine: a throwaway registry plays the connected side, a two-node cluster
// stand-in (API server, controllers, one kubelet and containerd per node) plays the air-gapped cluster, and the
// real exporter, Helm and kubectl run between them. No importer image anywhere: the hook runs the importer from
// the images directory, inside each node's own pause image.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { type ClusterStatus, startCluster, stopCluster } from '../../rig/cluster/index.ts';
import { ensureKubectl } from '../../rig/kubectl.ts';
import { ensureCommand } from '../../rig/packages.ts';
import { describeRig, type Rig, startRig } from '../../rig/rig.ts';
import type { RigInfo } from '../../rig/types.ts';
import { REPOSITORY_ROOT } from '../build-importer-image.ts';
import { renderChart } from './chart.ts';
import { runExporter, verifyChecksums, writeDemoConfig } from './export.ts';
import { carryImages, checkImagesPresent, helmInstall, type ImageCheck, importLogs } from './node.ts';
import { seedApplicationImages } from './seed.ts';
import { createStepReporter, type StepReporter } from './steps.ts';

/** Where the archives stay after the demo (gitignored). */
export const DEFAULT_DEMO_OUTPUT = join(REPOSITORY_ROOT, '.airlock/demo/images');
const NODES = 2;

export interface DemoOptions {
  /** Where the exporter writes; emptied first. Default .airlock/demo/images. */
  output?: string;
  out?: NodeJS.WritableStream;
  /** Aborting stops the rig and the cluster at once; the current step then fails and the demo returns 130. */
  signal?: AbortSignal;
}

export interface DemoResult {
  exitCode: number;
  output: string;
  archives: string[];
  checks: ImageCheck[];
  seconds: number;
}

type DemoRig = Rig<Pick<RigInfo, 'workDir' | 'registry' | 'helm'>>;

const TOOLS: [command: string, debianPackage: string][] = [
  ['ctr', 'containerd'],
  ['sha256sum', 'coreutils'],
];

const failedChecks = (checks: readonly ImageCheck[]) => checks.filter((check) => !check.found);

/** Steps 5 to 8: the cluster, the carried images, `helm install`, the logs, the checks. */
const installInCluster = async (
  report: StepReporter,
  rig: DemoRig['info'],
  clusterDir: string,
  output: string,
): Promise<ImageCheck[]> => {
  const cluster: ClusterStatus = await report.step(
    `Start a ${NODES}-node cluster stand-in (API server, controllers, a containerd per node)`,
    async () => {
      const status = await startCluster({ dir: clusterDir, nodes: NODES });
      for (const node of status.nodes) report.note(`${node.name}: ready, containerd at ${node.containerd}`);
      return status;
    },
  );
  await report.step('Carry images/ to every node', () => carryImages(report, cluster, output));
  await report.step('Install: helm install runs the import hook on every node', async () => {
    const installed = await helmInstall(report, rig.helm.v3.path, cluster.kubeconfig);
    if (installed.exitCode !== 0) throw new Error(`helm install exited with ${installed.exitCode}`);
  });
  await report.step("Read the import Jobs' logs", async () => {
    const { path } = await ensureKubectl();
    const logs = await importLogs(report, path, cluster.kubeconfig);
    if (logs.exitCode !== 0) throw new Error(`kubectl logs exited with ${logs.exitCode}`);
  });
  return report.step("Check: the images the chart's pods use are on every node", async () => {
    const { applicationImages } = await renderChart(rig.helm.v3.path);
    const checks = await checkImagesPresent(cluster, applicationImages);
    report.note('CRI ImageStatus (what kubelet asks before it would pull):');
    for (const check of checks) {
      report.note(`  ${check.found ? 'present' : 'MISSING'}  ${check.node}  ${check.image}`);
    }
    return checks;
  });
};

export const runDemo = async (options: DemoOptions = {}): Promise<DemoResult> => {
  const out = options.out ?? process.stdout;
  const report = createStepReporter(out);
  const output = options.output ?? DEFAULT_DEMO_OUTPUT;
  const result: DemoResult = { exitCode: 1, output, archives: [], checks: [], seconds: 0 };
  const scratch = await mkdtemp(join(tmpdir(), 'airlock-demo-'));
  const clusterDir = join(scratch, 'cluster');
  let rig: DemoRig | undefined;
  const stopAll = async () => {
    await Promise.allSettled([rig?.stop(), stopCluster(clusterDir)]);
  };
  const onAbort = () => {
    out.write('\ninterrupted: stopping the throwaway registry and cluster\n');
    void stopAll();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    out.write(
      'airlock demo: export a chart\'s images on a "connected host", install it in an "air-gapped cluster"\n',
    );
    rig = await report.step('Start a throwaway registry and Helm', async () => {
      for (const [command, debianPackage] of TOOLS) await ensureCommand(command, debianPackage);
      const started = await startRig({ components: ['registry', 'helm'] });
      report.quote(describeRig(started.info, started.startupMs));
      return started;
    });
    if (options.signal?.aborted) throw new Error('interrupted');
    const { info } = rig;

    await report.step("Seed the registry with the chart's four images", async () => {
      const seeded = await seedApplicationImages(info);
      for (const image of seeded.images) report.note(`${image.pushedTo}  ${image.digest}`);
    });

    const exported = await report.step('Export: ./scripts/export-images.ts --importer bundle', async () => {
      await rm(output, { recursive: true, force: true });
      await mkdir(output, { recursive: true });
      const config = await writeDemoConfig(scratch, info.registry.host);
      report.note(`config.toml: [mirrors] "docker.io" = ["${info.registry.host}"]`);
      const run = await runExporter(report, { config, output, helm: info.helm.v3.path, settings: [] });
      if (run.exitCode !== 0) throw new Error(`the exporter exited with ${run.exitCode}`);
      return run;
    });
    result.archives = exported.archives;

    await report.step('Carry and verify: sha256sum -c SHA256SUMS', () => verifyChecksums(report, output));
    result.checks = await installInCluster(report, info, clusterDir, output);
    result.exitCode = failedChecks(result.checks).length === 0 ? 0 : 1;
  } catch (error) {
    out.write(`\ndemo failed: ${(error as Error).message}\n`);
    result.exitCode = options.signal?.aborted ? 130 : 1;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    const stopping = performance.now();
    await stopAll();
    if (rig)
      out.write(`\nstopped the throwaway rig in ${((performance.now() - stopping) / 1000).toFixed(1)} s\n`);
    await rm(scratch, { recursive: true, force: true });
  }
  result.seconds = Number(report.elapsed().toFixed(1));
  const where = relative(process.cwd(), output) || '.';
  if (result.exitCode === 0) {
    out.write(
      `\ndemo passed in ${result.seconds} s: the ${result.checks.length / NODES} images the chart's pods use are in containerd (k8s.io) on all ${NODES} nodes\n`,
    );
    out.write(`archives kept in ${where.startsWith('..') ? output : where}/ (SHA256SUMS, images.json)\n`);
  } else if (result.exitCode === 1 && result.checks.length > 0) {
    const missing = failedChecks(result.checks).map((check) => `${check.node} ${check.image}`);
    out.write(`\ndemo failed after ${result.seconds} s: missing: ${missing.join(', ')}\n`);
  }
  return result;
};
