import type { RigInfo } from '../rig/types.ts';
import {
  bundleExporter,
  type ExportContext,
  measureAirlockExport,
  measureDiskLimit,
  measureOriginalDesign,
  measurePhysicalLimit,
  measureSkopeo,
  type OriginalExport,
  REPO_ROOT,
} from './export.ts';
import { bundleImporter, type ImportFigures, measureImports, removeContainerdImages } from './import.ts';
import { describeMachine, type MachineInfo } from './machine.ts';
import { type Cell, measureCommand, repeat } from './measure.ts';
import { type BlobRequests, countBlobRequests } from './requests.ts';
import type { BenchSettings } from './settings.ts';
import { prepareWorkloads, type Workload } from './workloads.ts';

export interface WorkloadSummary {
  short: string;
  label: string;
  images: number;
  uniqueBytes: number;
  totalBytes: number;
}

export interface ExportFigures {
  physical: Cell;
  /** The same download written to files and fsynced. */
  disk: Cell;
  airlockGzip: Cell;
  airlockNone: Cell;
  /** The same gzip export run from an esbuild bundle instead of through tsx. */
  airlockBundled: Cell;
  skopeo: Cell;
  original: OriginalExport;
  /** Bytes of the gzip archives airlock wrote. */
  archiveBytes: number;
}

export interface WorkloadFigures {
  workload: WorkloadSummary;
  export: ExportFigures;
  import: ImportFigures;
}

export interface BenchResults {
  settings: BenchSettings;
  machine: MachineInfo;
  large: WorkloadFigures;
  shared: WorkloadFigures;
  scaling: { subset: WorkloadSummary; subsetExport: Cell };
  startup: StartupFigures;
  requests: BlobRequests;
}

const summary = (workload: Workload): WorkloadSummary => ({
  short: workload.short,
  label: workload.label,
  images: workload.images.length,
  uniqueBytes: workload.uniqueBytes,
  totalBytes: workload.totalBytes,
});

type Step = (message: string) => void;

/** The rig components the bench uses (no second, authenticated registry). */
export type BenchRig = Pick<RigInfo, 'registry' | 'containerd' | 'docker' | 'helm'>;

/** What every run pays before the first byte: process start, module loading, TypeScript transform. */
export interface StartupFigures {
  exporterTsx: Cell;
  exporterScript: Cell;
  exporterBundle: Cell;
  importerBundle: Cell;
}

const measureStartup = async (
  reps: number,
  bundles: { importer: string; exporter: string },
): Promise<StartupFigures> => {
  const help = (file: string, args: readonly string[]) =>
    repeat(reps, () => measureCommand(file, [...args, '--help'], { cwd: REPO_ROOT }));
  return {
    exporterTsx: await help(process.execPath, ['--import', 'tsx', 'scripts/export-images.ts']),
    exporterScript: await help('./scripts/export-images.ts', []),
    exporterBundle: await help(process.execPath, [bundles.exporter]),
    importerBundle: await help(process.execPath, [bundles.importer]),
  };
};

const measureWorkload = async (
  context: ExportContext & { rig: BenchRig },
  bundles: { importer: string; exporter: string },
  workload: Workload,
  step: Step,
): Promise<WorkloadFigures> => {
  step(`${workload.label}: physical limit`);
  const physical = await measurePhysicalLimit(context, workload);
  const disk = await measureDiskLimit(context, workload);
  step(`${workload.label}: airlock export (--compression none)`);
  const none = await measureAirlockExport(context, workload, { compression: 'none' });
  step(`${workload.label}: airlock export (--compression gzip --gzip-level 0)`);
  const gzip = await measureAirlockExport(context, workload, { compression: 'gzip' });
  step(`${workload.label}: airlock export from an esbuild bundle (gzip level 0)`);
  const bundled = await measureAirlockExport(context, workload, {
    compression: 'gzip',
    bundle: bundles.exporter,
    variant: 'bundled',
  });
  step(`${workload.label}: skopeo copy to docker-archive`);
  const skopeo = await measureSkopeo(context, workload);
  step(`${workload.label}: docker pull + docker save | gzip`);
  const original = await measureOriginalDesign(context, workload);
  step(`${workload.label}: imports (airlock, ctr, docker load)`);
  const imports = await measureImports(
    context,
    bundles.importer,
    gzip.output,
    workload.images.map(({ reference }) => reference),
  );
  return {
    workload: summary(workload),
    export: {
      physical,
      disk,
      airlockGzip: gzip.cell,
      airlockNone: none.cell,
      airlockBundled: bundled.cell,
      skopeo,
      original,
      archiveBytes: gzip.archiveBytes,
    },
    import: imports,
  };
};

/** Every measurement of the table, in one run against one rig. */
export const runSuite = async (
  rig: BenchRig,
  dir: string,
  settings: BenchSettings,
  step: Step,
): Promise<BenchResults> => {
  const machine = await describeMachine(rig);
  step('building and pushing the images (the factory caches blobs between runs)');
  const workloads = await prepareWorkloads(rig.registry.host, settings);
  const context = { rig, dir, reps: settings.reps };
  await removeContainerdImages(context);
  const bundles = { importer: await bundleImporter(dir), exporter: await bundleExporter(dir) };
  step('start-up cost: --help of the exporter and the importer');
  const startup = await measureStartup(settings.reps, bundles);
  const large = await measureWorkload(context, bundles, workloads.large, step);
  const shared = await measureWorkload(context, bundles, workloads.shared, step);
  step(`${workloads.subset.label}: airlock export, for the scaling check`);
  const subsetExport = (await measureAirlockExport(context, workloads.subset, { compression: 'gzip' })).cell;
  step(`${workloads.shared.label}: one export through a counting proxy`);
  const requests = await countBlobRequests(context, workloads.shared);
  return {
    settings,
    machine,
    large,
    shared,
    scaling: { subset: summary(workloads.subset), subsetExport },
    requests,
    startup,
  };
};
