import type { Cell } from './measure.ts';
import type { BenchResults, ScaleFigures, StartupFigures, WorkloadFigures } from './suite.ts';

export interface Verdict {
  /** What the budget promises, e.g. `export <= 1.5x the physical limit`. */
  budget: string;
  workload: string;
  /** The measured figure, as printed: `1.23x`, `142 MiB`, `1 GET`. */
  measured: string;
  pass: boolean;
}

/** The tree's peak (every process of the command added up): the memory a node actually has to give. */
export const peakMib = (cell: Cell): number => (cell.treeKib ?? cell.maxProcessKib ?? Number.NaN) / 1024;

const times = (ratio: number) => `${ratio.toFixed(2)}x`;
const percent = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;
const megabytes = (cell: Cell) => peakMib(cell) * 1.048576;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** Export time that is not start-up and discovery: the whole export minus `--list` of the same configuration. */
export const transferMs = (figures: WorkloadFigures): number =>
  figures.export.airlockGzip.ms - figures.export.airlockList.ms;

const workloadVerdicts = (figures: WorkloadFigures, isLarge: boolean): Verdict[] => {
  const { workload, export: exported, import: imported } = figures;
  const verdict = (budget: string, measured: string, pass: boolean): Verdict => ({
    budget,
    workload: workload.short,
    measured,
    pass,
  });
  const airlock = exported.airlockGzip.ms;
  const overLimit = airlock / exported.physical.ms;
  const skopeo = exported.skopeo.ms / airlock;
  const skopeoSynced = airlock / exported.skopeoSynced.ms;
  const original = exported.original.total.ms / airlock;
  const transfer = transferMs(figures) / exported.disk.ms;
  const ctr = imported.airlockContainerd.ms / imported.ctr.ms;
  const docker = imported.airlockDocker.ms / imported.dockerLoad.ms;
  const reimport = imported.airlockReimport.ms / imported.airlockContainerd.ms;
  const exportMb = megabytes(exported.airlockGzip);
  const importMb = Math.max(megabytes(imported.airlockContainerd), megabytes(imported.airlockDocker));
  return [
    isLarge
      ? verdict('export <= skopeo docker-archive + sync', times(skopeoSynced), skopeoSynced <= 1)
      : verdict('export >= 1.5x faster than skopeo docker-archive', times(skopeo), skopeo >= 1.5),
    verdict('transfer (export - --list) <= 1.15x the fsynced download', times(transfer), transfer <= 1.15),
    verdict('import <= 1.05x gunzip | ctr import of the same archives', times(ctr), ctr <= 1.05),
    verdict('import <= 1.05x docker load of the same archives', times(docker), docker <= 1.05),
    verdict('export peak RSS <= 150 MB', `${exportMb.toFixed(0)} MB (process tree)`, exportMb <= 150),
    verdict('import peak RSS <= 120 MB', `${importMb.toFixed(0)} MB (process tree)`, importMb <= 120),
    // The budgets of the first round, kept for comparison.
    verdict('export <= 1.5x the physical limit', times(overLimit), overLimit <= 1.5),
    verdict('export >= 3x faster than skopeo docker-archive', times(skopeo), skopeo >= 3),
    verdict('export >= 15x faster than docker pull + save | gzip', times(original), original >= 15),
    verdict('re-import of an unchanged set <= 5% of the first import', percent(reimport), reimport <= 0.05),
  ];
};

const startupVerdicts = (startup: StartupFigures): Verdict[] => {
  const help = startup.exporterScript.ms / startup.node.ms;
  return [
    {
      budget: '--list of the chart in helm/ <= 0.5 s',
      workload: '-',
      measured: seconds(startup.exporterList.ms),
      pass: startup.exporterList.ms <= 500,
    },
    {
      budget: './scripts/export-images.ts --help <= 5x node -e 0',
      workload: '-',
      measured: `${times(help)} (${seconds(startup.exporterScript.ms)} against ${seconds(startup.node.ms)})`,
      pass: help <= 5,
    },
  ];
};

/** Time per byte of the large set against the small one's, for export and import: flat within 15%. */
const scaleVerdicts = ({ small, large }: ScaleFigures): Verdict[] =>
  (['export', 'import'] as const).map((step) => {
    const perByte = (point: typeof small) => point[step].ms / point.workload.totalBytes;
    const ratio = perByte(large) / perByte(small);
    return {
      budget: `${step} time per byte flat within 15% (${large.workload.images} against ${small.workload.images} images)`,
      workload: large.workload.short,
      measured: times(ratio),
      pass: ratio <= 1.15,
    };
  });

/** Issue #13: the push of an oci-archive within 1.1x of skopeo copying the same archive. */
const pushVerdict = ({ push, large }: BenchResults): Verdict => {
  const ratio = push.airlock.ms / push.skopeo.ms;
  return {
    budget: 'push <= 1.1x skopeo copy oci-archive: docker:// of the same archive',
    workload: large.workload.short,
    measured: times(ratio),
    pass: ratio <= 1.1,
  };
};

/** Every budget of the issue, each a ratio of two figures from the same run. */
export const verdicts = (results: BenchResults): Verdict[] => {
  const { shared, scaling, requests } = results;
  const timeRatio = shared.export.airlockGzip.ms / scaling.subsetExport.ms;
  const bytesRatio = shared.workload.totalBytes / scaling.subset.totalBytes;
  return [
    ...startupVerdicts(results.startup),
    ...workloadVerdicts(results.large, true),
    pushVerdict(results),
    ...workloadVerdicts(shared, false),
    {
      budget: 'shared layers downloaded once',
      workload: shared.workload.short,
      measured: `${requests.sharedLayerGets} GET of the shared layer; ${requests.blobGets} blob GETs for ${requests.distinctBlobs} distinct blobs`,
      pass: requests.sharedLayerGets === 1 && requests.blobGets === requests.distinctBlobs,
    },
    {
      budget: 'export time grows with bytes, not images squared (time ratio <= 1.2x bytes ratio)',
      workload: `${scaling.subset.images} vs ${shared.workload.images} images`,
      measured: `time ${times(timeRatio)} for bytes ${times(bytesRatio)}`,
      pass: timeRatio <= 1.2 * bytesRatio,
    },
    ...(results.scale ? scaleVerdicts(results.scale) : []),
  ];
};
