import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { buildScriptBundles } from '../lib/cli/build.ts';
import type { RigInfo } from '../rig/types.ts';
import {
  EXPORTER_BUNDLE,
  type ExportContext,
  exporterCommand,
  measureAirlockExport,
  measureDiskLimit,
  measureOriginalDesign,
  measurePhysicalLimit,
  measureSkopeo,
  type OriginalExport,
  REPO_ROOT,
} from './export.ts';
import {
  bundleImporter,
  type ImportFigures,
  measureContainerdImport,
  measureImports,
  removeContainerdImages,
} from './import.ts';
import { describeMachine, type MachineInfo, settle } from './machine.ts';
import { type Cell, measureCommand, repeat } from './measure.ts';
import { measurePush, type PushFigures } from './push.ts';
import { type BlobRequests, countBlobRequests } from './requests.ts';
import type { BenchSettings } from './settings.ts';
import { prepareScaleWorkloads, prepareWorkloads, type Workload } from './workloads.ts';

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
  /** The same again, every byte hashed twice on the way (the blob's digest and the file's checksum). */
  diskHashed: Cell;
  /** `./scripts/export-images.ts` as an operator runs it (the bundle of `npm ci`), gzip level 0. */
  airlockGzip: Cell;
  airlockNone: Cell;
  /** The same gzip export through tsx, as a checkout with a stale or missing bundle runs it. */
  airlockTsx: Cell;
  /** `--list` of the same configuration: start-up and discovery, the part of an export that is not transfer. */
  airlockList: Cell;
  skopeo: Cell;
  /** skopeo followed by an fsync of its archives: the durability airlock gives. */
  skopeoSynced: Cell;
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
  /** The large image's oci-archive pushed by airlock and by skopeo. */
  push: PushFigures;
  shared: WorkloadFigures;
  scaling: { subset: WorkloadSummary; subsetExport: Cell };
  /** BENCH_SCALE_COUNT: export and import of a small and a large set of the same images. */
  scale?: ScaleFigures;
  startup: StartupFigures;
  requests: BlobRequests;
}

export interface ScalePoint {
  workload: WorkloadSummary;
  export: Cell;
  import: Cell;
}

export interface ScaleFigures {
  small: ScalePoint;
  large: ScalePoint;
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
  /** `node -e 0`: the process start every budget on start-up is a multiple of. */
  node: Cell;
  exporterTsx: Cell;
  exporterScript: Cell;
  exporterBundle: Cell;
  /** `./scripts/export-images.ts --list` of the repository's chart (helm/), rendered by the rig's Helm 3. */
  exporterList: Cell;
  importerBundle: Cell;
}

const measureStartup = async (reps: number, importer: string, helm: string): Promise<StartupFigures> => {
  const command = (file: string, args: readonly string[]) =>
    repeat(reps, () => measureCommand(file, args, { cwd: REPO_ROOT }));
  const [script, scriptArgs] = exporterCommand('script');
  const [tsx, tsxArgs] = exporterCommand('tsx');
  return {
    node: await command(process.execPath, ['-e', '0']),
    exporterTsx: await command(tsx, [...tsxArgs, '--help']),
    exporterScript: await command(script, [...scriptArgs, '--help']),
    exporterBundle: await command(process.execPath, [EXPORTER_BUNDLE, '--help']),
    exporterList: await command(script, [...scriptArgs, '--list', '--chart', 'helm', '--helm', helm]),
    importerBundle: await command(process.execPath, [importer, '--help']),
  };
};

const measureWorkload = async (
  context: ExportContext & { rig: BenchRig },
  importer: string,
  workload: Workload,
  step: Step,
): Promise<WorkloadFigures> => {
  step(`${workload.label}: physical limit`);
  const physical = await measurePhysicalLimit(context, workload);
  const disk = await measureDiskLimit(context, workload);
  const diskHashed = await measureDiskLimit(context, workload, 2);
  step(`${workload.label}: airlock export (--compression none)`);
  const none = await measureAirlockExport(context, workload, { compression: 'none' });
  step(`${workload.label}: airlock export (--compression gzip --gzip-level 0)`);
  const gzip = await measureAirlockExport(context, workload, { compression: 'gzip' });
  step(`${workload.label}: airlock export through tsx (gzip level 0)`);
  const tsx = await measureAirlockExport(context, workload, {
    compression: 'gzip',
    entry: 'tsx',
    variant: 'tsx',
  });
  step(`${workload.label}: airlock --list of the same configuration`);
  const list = await measureAirlockExport(context, workload, {
    compression: 'gzip',
    list: true,
    variant: 'list',
  });
  step(`${workload.label}: skopeo copy to docker-archive, then with a sync of the archives`);
  const skopeo = await measureSkopeo(context, workload);
  const skopeoSynced = await measureSkopeo(context, workload, true);
  step(`${workload.label}: docker pull + docker save | gzip`);
  const original = await measureOriginalDesign(context, workload);
  step(`${workload.label}: imports (airlock, ctr, docker load)`);
  const imports = await measureImports(
    context,
    importer,
    gzip.output,
    workload.images.map(({ reference }) => reference),
  );
  return {
    workload: summary(workload),
    export: {
      physical,
      disk,
      diskHashed,
      airlockGzip: gzip.cell,
      airlockNone: none.cell,
      airlockTsx: tsx.cell,
      airlockList: list.cell,
      skopeo,
      skopeoSynced,
      original,
      archiveBytes: gzip.archiveBytes,
    },
    import: imports,
  };
};

const scalePoint = async (
  context: ExportContext & { rig: BenchRig },
  importer: string,
  workload: Workload,
  step: Step,
): Promise<ScalePoint> => {
  step(`${workload.label}: airlock export and import (scale)`);
  const exported = await measureAirlockExport(context, workload, { compression: 'gzip' });
  const imported = await measureContainerdImport(context, importer, exported.output);
  await rm(exported.output, { recursive: true, force: true });
  return { workload: summary(workload), export: exported.cell, import: imported };
};

/** BENCH_SCALE_COUNT images of BENCH_SCALE_OWN_MB each, and the first 10 of them: time per byte at both sizes. */
const measureScale = async (
  context: ExportContext & { rig: BenchRig },
  importer: string,
  settings: BenchSettings,
  step: Step,
): Promise<ScaleFigures> => {
  step(`building and pushing ${settings.scaleCount} images for the scale check`);
  const { small, large } = await prepareScaleWorkloads(context.rig.registry.host, settings);
  return {
    small: await scalePoint(context, importer, small, step),
    large: await scalePoint(context, importer, large, step),
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
  // What `npm ci` leaves behind: the script's bundle, current, so `./scripts/export-images.ts` runs it.
  step('bundling the scripts (npm ci does the same in its prepare step)');
  await buildScriptBundles(REPO_ROOT);
  const importer = await bundleImporter(dir);
  step('start-up cost: --help of the exporter and the importer, --list of the chart');
  await settle();
  const startup = await measureStartup(settings.reps, importer, rig.helm.v3.path);
  const large = await measureWorkload(context, importer, workloads.large, step);
  step(`${workloads.large.label}: airlock push and skopeo copy of its oci-archive`);
  const push = await measurePush(
    rig.registry.host,
    workloads.large.images[0]!.reference,
    join(dir, 'push'),
    settings.reps,
  );
  const shared = await measureWorkload(context, importer, workloads.shared, step);
  step(`${workloads.subset.label}: airlock export, for the scaling check`);
  const subsetExport = (await measureAirlockExport(context, workloads.subset, { compression: 'gzip' })).cell;
  step(`${workloads.shared.label}: one export through a counting proxy`);
  const requests = await countBlobRequests(context, workloads.shared);
  const scale = settings.scaleCount ? await measureScale(context, importer, settings, step) : undefined;
  return {
    ...(scale ? { scale } : {}),
    settings,
    machine,
    large,
    push,
    shared,
    scaling: { subset: summary(workloads.subset), subsetExport },
    requests,
    startup,
  };
};
