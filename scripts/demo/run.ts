// The whole air-gap flow on one machine: a throwaway registry plays the connected side, a throwaway
// containerd plays an air-gapped node, and the real exporter and importer run between them.
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ensureCommand } from '../../rig/packages.ts';
import { describeRig, type Rig, startRig } from '../../rig/rig.ts';
import type { RigInfo } from '../../rig/types.ts';
import { rigCacheDir } from '../../rig/workdir.ts';
import { REPOSITORY_ROOT } from '../build-importer-image.ts';
import { chartSettings, NAMESPACE, NODE_NAME, RELEASE, renderChart } from './chart.ts';
import { runExporter, verifyChecksums, writeDemoConfig } from './export.ts';
import {
  bootstrapImporter,
  checkImagesPresent,
  type ImageCheck,
  importerArchive,
  listNodeImages,
  runImportHook,
} from './node.ts';
import { seedApplicationImages, seedImporterImage } from './seed.ts';
import { createStepReporter } from './steps.ts';

/** Where the archives stay after the demo (gitignored). */
export const DEFAULT_DEMO_OUTPUT = join(REPOSITORY_ROOT, '.airlock/demo/images');

export interface DemoOptions {
  /** Where the exporter writes; emptied first. Default .airlock/demo/images. */
  output?: string;
  out?: NodeJS.WritableStream;
  /** Aborting stops the rig at once; the current step then fails and the demo returns 130. */
  signal?: AbortSignal;
}

export interface DemoResult {
  exitCode: number;
  output: string;
  archives: string[];
  checks: ImageCheck[];
  seconds: number;
}

type DemoRig = Rig<Pick<RigInfo, 'workDir' | 'registry' | 'containerd' | 'docker' | 'helm'>>;

// debootstrap builds the importer's base once; the rig installs its own daemons' packages when it starts.
const TOOLS: [command: string, debianPackage: string][] = [
  ['debootstrap', 'debootstrap'],
  ['ctr', 'containerd'],
  ['sha256sum', 'coreutils'],
  ['gunzip', 'gzip'],
];

// rig/importer-image.ts caches the debootstrap tarball here; its absence means the slow first build.
const hasImporterBase = async (): Promise<boolean> => {
  const names = await readdir(join(rigCacheDir, 'importer-base')).catch(() => [] as string[]);
  return names.some((name) => name.endsWith('.tar'));
};

const failedChecks = (checks: readonly ImageCheck[]) => checks.filter((check) => !check.found);

export const runDemo = async (options: DemoOptions = {}): Promise<DemoResult> => {
  const out = options.out ?? process.stdout;
  const report = createStepReporter(out);
  const output = options.output ?? DEFAULT_DEMO_OUTPUT;
  const result: DemoResult = { exitCode: 1, output, archives: [], checks: [], seconds: 0 };
  let rig: DemoRig | undefined;
  const onAbort = () => {
    out.write('\ninterrupted: stopping the throwaway registry, containerd and dockerd\n');
    void rig?.stop().catch(() => undefined);
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const scratch = await mkdtemp(join(tmpdir(), 'airlock-demo-'));
  try {
    out.write(
      'airlock demo: export a chart\'s images on a "connected host", import them on an "air-gapped node"\n',
    );
    rig = await report.step('Start a throwaway registry, containerd 1.6, dockerd and Helm', async () => {
      for (const [command, debianPackage] of TOOLS) await ensureCommand(command, debianPackage);
      const started = await startRig({ components: ['registry', 'docker', 'containerd', 'helm'] });
      report.quote(describeRig(started.info, started.startupMs));
      return started;
    });
    if (options.signal?.aborted) throw new Error('interrupted');
    const { info } = rig;

    await report.step("Seed the registry with the chart's four images", async () => {
      const result = await seedApplicationImages(info);
      for (const image of result.images) report.note(`${image.pushedTo}  ${image.digest}`);
      return result;
    });

    await report.step('Build the importer image and push it to the registry', async () => {
      if (!(await hasImporterBase())) {
        report.note(
          'first run: debootstrap builds the Debian base (about 30 s), cached in node_modules/.cache',
        );
      }
      const importer = await seedImporterImage(info);
      report.note(`${importer.pushedTo}  ${importer.digest}`);
    });

    const settings = chartSettings();
    const exported = await report.step(
      'Export: ./scripts/export-images.ts on the connected host',
      async () => {
        await rm(output, { recursive: true, force: true });
        await mkdir(output, { recursive: true });
        const config = await writeDemoConfig(scratch, info.registry.host);
        report.note(`config.toml: [mirrors] "docker.io" = ["${info.registry.host}"]`);
        const run = await runExporter(report, { config, output, helm: info.helm.v3.path, settings });
        if (run.exitCode !== 0) throw new Error(`the exporter exited with ${run.exitCode}`);
        return run;
      },
    );
    result.archives = exported.archives;

    await report.step('Carry and verify: sha256sum -c SHA256SUMS', () => verifyChecksums(report, output));

    await report.step('Bootstrap the importer image on the node (once per node)', () =>
      bootstrapImporter(report, info, output, importerArchive(exported.archives)),
    );

    const chart = await report.step('Install: the pre-install hook Job imports the archives', async () => {
      const rendered = await renderChart(info.helm.v3.path, settings);
      const sets = settings.map((setting) => `--set ${setting}`).join(' ');
      report.note(`$ helm install ${RELEASE} ./helm -n ${NAMESPACE} --create-namespace ${sets}`);
      report.note(
        `the hook Job runs on ${NODE_NAME}; $ kubectl logs -n ${NAMESPACE} job/${rendered.hookJobName}`,
      );
      const hook = await runImportHook(info, rendered.hookPod, output);
      report.quote(hook.logs);
      if (hook.exitCode !== 0) throw new Error(`the import Job's pod exited with ${hook.exitCode}`);
      if (!hook.summary || hook.summary.failed > 0) {
        throw new Error('the importer reported failed images (see its log above)');
      }
      return rendered;
    });

    result.checks = await report.step("Check: the images the chart's pods use are on the node", async () => {
      const checks = await checkImagesPresent(info, chart.applicationImages);
      report.note('CRI ImageStatus (what kubelet asks before it would pull):');
      for (const check of checks) {
        report.note(`  ${check.found ? 'present' : 'MISSING'}  ${check.image}`);
      }
      report.note('$ ctr -n k8s.io images ls | grep airlock/');
      report.quote((await listNodeImages(info, 'airlock/')).join('\n'));
      return checks;
    });
    const missing = failedChecks(result.checks);
    result.exitCode = missing.length === 0 ? 0 : 1;
  } catch (error) {
    out.write(`\ndemo failed: ${(error as Error).message}\n`);
    result.exitCode = options.signal?.aborted ? 130 : 1;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (rig) {
      const stopping = performance.now();
      await rig.stop().catch((error: Error) => out.write(`rig teardown: ${error.message}\n`));
      out.write(`\nstopped the throwaway rig in ${((performance.now() - stopping) / 1000).toFixed(1)} s\n`);
    }
    await rm(scratch, { recursive: true, force: true });
  }
  result.seconds = Number(report.elapsed().toFixed(1));
  const where = relative(process.cwd(), output) || '.';
  if (result.exitCode === 0) {
    out.write(
      `\ndemo passed in ${result.seconds} s: ${result.checks.length} of ${result.checks.length} images the chart's pods use are in containerd (k8s.io)\n`,
    );
    out.write(`archives kept in ${where.startsWith('..') ? output : where}/ (SHA256SUMS, images.json)\n`);
  } else if (result.exitCode === 1 && result.checks.length > 0) {
    const missing = failedChecks(result.checks).map((check) => check.image);
    out.write(`\ndemo failed after ${result.seconds} s: missing on the node: ${missing.join(', ')}\n`);
  }
  return result;
};
