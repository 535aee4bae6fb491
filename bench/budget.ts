import type { Cell } from './measure.ts';
import type { BenchResults, WorkloadFigures } from './suite.ts';

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

const workloadVerdicts = ({ workload, export: exported, import: imported }: WorkloadFigures): Verdict[] => {
  const label = workload.short;
  const airlock = exported.airlockGzip.ms;
  const verdict = (budget: string, measured: string, pass: boolean): Verdict => ({
    budget,
    workload: label,
    measured,
    pass,
  });
  const overLimit = airlock / exported.physical.ms;
  const skopeo = exported.skopeo.ms / airlock;
  const original = exported.original.total.ms / airlock;
  const ctr = imported.airlockContainerd.ms / imported.ctr.ms;
  const docker = imported.airlockDocker.ms / imported.dockerLoad.ms;
  const reimport = imported.airlockReimport.ms / imported.airlockContainerd.ms;
  const megabytes = peakMib(exported.airlockGzip) * 1.048576;
  return [
    verdict('export <= 1.5x the physical limit', times(overLimit), overLimit <= 1.5),
    verdict('export >= 3x faster than skopeo docker-archive', times(skopeo), skopeo >= 3),
    verdict('export >= 15x faster than docker pull + save | gzip', times(original), original >= 15),
    verdict('import <= 1.1x ctr import of the same archive', times(ctr), ctr <= 1.1),
    verdict('import <= 1.1x docker load of the same archive', times(docker), docker <= 1.1),
    verdict('re-import of an unchanged set <= 5% of the first import', percent(reimport), reimport <= 0.05),
    verdict('export peak RSS <= 200 MB', `${megabytes.toFixed(0)} MB (process tree)`, megabytes <= 200),
  ];
};

/** Every budget of the issue, each a ratio of two figures from the same run. */
export const verdicts = (results: BenchResults): Verdict[] => {
  const { shared, scaling, requests } = results;
  const timeRatio = shared.export.airlockGzip.ms / scaling.subsetExport.ms;
  const bytesRatio = shared.workload.totalBytes / scaling.subset.totalBytes;
  return [
    ...workloadVerdicts(results.large),
    ...workloadVerdicts(shared),
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
  ];
};
