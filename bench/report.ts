import { transferMs, type Verdict, verdicts } from './budget.ts';
import { machineLines } from './machine.ts';
import type { Cell } from './measure.ts';
import type { PushFigures } from './push.ts';
import type { BenchResults, WorkloadFigures } from './suite.ts';

const MIB = 1024 * 1024;

interface Row {
  workload: string;
  step: 'export' | 'import' | 'push' | 'start-up';
  what: string;
  cell: Cell;
  /** The airlock figure this row is compared with; absent on airlock's own rows. */
  versus?: Cell;
  /** Memory is shown for the commands whose footprint matters (airlock's). */
  memory?: boolean;
}

const seconds = (ms: number) => (ms / 1000).toFixed(2);
const mib = (kib: number | undefined) => (kib === undefined ? '-' : (kib / 1024).toFixed(0));

const workloadRows = ({ workload, export: exported, import: imported }: WorkloadFigures): Row[] => {
  const label = workload.short;
  const exportRow = (what: string, cell: Cell, extra: Partial<Row> = {}): Row => ({
    workload: label,
    step: 'export',
    what,
    cell,
    versus: exported.airlockGzip,
    ...extra,
  });
  const importRow = (what: string, cell: Cell, versus: Cell | undefined, memory = false): Row => ({
    workload: label,
    step: 'import',
    what,
    cell,
    ...(versus ? { versus } : {}),
    memory,
  });
  return [
    exportRow('physical limit: every blob downloaded once (undici -> /dev/null)', exported.physical),
    exportRow('same download into files, fsynced (the floor for writing archives)', exported.disk),
    exportRow(
      'same, each byte hashed twice on the way (the floor for checked blobs and SHA256SUMS)',
      exported.diskHashed,
    ),
    {
      ...exportRow(
        'airlock export, gzip level 0 (.tar.gz): ./scripts/export-images.ts, its bundle',
        exported.airlockGzip,
      ),
      memory: true,
    },
    exportRow('airlock export, --compression none (.tar)', exported.airlockNone, { memory: true }),
    exportRow('airlock export, gzip level 0, through tsx (a stale or missing bundle)', exported.airlockTsx, {
      memory: true,
    }),
    exportRow('airlock --list of the same configuration (start-up and discovery)', exported.airlockList, {
      memory: true,
    }),
    exportRow('airlock transfer: export minus --list', {
      samples: [],
      ms: transferMs({ workload, export: exported, import: imported }),
    }),
    exportRow('skopeo copy docker:// -> docker-archive:', exported.skopeo),
    exportRow('skopeo copy docker:// -> docker-archive:, then sync of the archives', exported.skopeoSynced),
    exportRow('docker pull (rig dockerd)', exported.original.pull),
    exportRow('docker save | gzip', exported.original.save),
    exportRow('original design: docker pull + docker save | gzip', exported.original.total),
    importRow('airlock importer -> containerd', imported.airlockContainerd, undefined, true),
    importRow('gunzip -c | ctr images import - (same archives)', imported.ctr, imported.airlockContainerd),
    importRow(
      'airlock importer -> containerd, --concurrency 2',
      imported.airlockContainerdParallel,
      imported.airlockContainerd,
      true,
    ),
    importRow(
      'airlock importer, unchanged set (re-import)',
      imported.airlockReimport,
      imported.airlockContainerd,
      true,
    ),
    importRow('ctr images import, images already present', imported.ctrReimport, imported.airlockContainerd),
    importRow('airlock importer -> dockerd', imported.airlockDocker, undefined, true),
    importRow('docker load -i (same archives)', imported.dockerLoad, imported.airlockDocker),
  ];
};

/** The push's rows: airlock's push is the figure the others are compared with. */
const pushRows = (workload: string, push: PushFigures): Row[] => {
  const row = (what: string, cell: Cell, extra: Partial<Row> = {}): Row => ({
    workload,
    step: 'push',
    what,
    cell,
    versus: push.airlock,
    ...extra,
  });
  return [
    { ...row('airlock push of the oci-archive (./scripts/push-images.ts)', push.airlock), memory: true },
    row('skopeo copy oci-archive: docker:// (same archive)', push.skopeo),
    row('airlock push, unchanged set', push.again, { memory: true }),
    row('airlock push --help (start-up)', push.startup, { memory: true }),
  ];
};

const HEADER = [
  'workload',
  'step',
  'measurement',
  'median s',
  'runs s',
  'vs airlock',
  'peak RSS MiB (tree / largest process)',
];

const cells = (row: Row): string[] => [
  row.workload,
  row.step,
  row.what,
  seconds(row.cell.ms),
  row.cell.samples.map((sample) => seconds(sample.ms)).join(' '),
  row.versus ? `${(row.cell.ms / row.versus.ms).toFixed(2)}x` : 'airlock',
  row.memory ? `${mib(row.cell.treeKib)} / ${mib(row.cell.maxProcessKib)}` : '',
];

const renderMarkdown = (header: readonly string[], rows: readonly string[][]): string =>
  [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`),
  ].join('\n');

const renderText = (header: readonly string[], rows: readonly string[][]): string => {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (row: readonly string[]) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
};

const verdictRows = (list: readonly Verdict[]): string[][] =>
  list.map((verdict) => [verdict.pass ? 'PASS' : 'MISS', verdict.budget, verdict.workload, verdict.measured]);

/** The whole report: machine, settings, one table of figures, then one PASS/MISS line per budget. */
export const formatReport = (results: BenchResults, markdown: boolean): string => {
  const render = markdown ? renderMarkdown : renderText;
  const { settings, scaling } = results;
  const { startup } = results;
  const startupRow = (what: string, cell: Cell): Row => ({
    workload: '-',
    step: 'start-up',
    what,
    cell,
    memory: true,
  });
  const rows = [
    startupRow('node -e 0 (process start, the reference)', startup.node),
    startupRow('exporter --help (node --import tsx)', startup.exporterTsx),
    startupRow(
      'exporter --help (./scripts/export-images.ts, its shebang: the bundle)',
      startup.exporterScript,
    ),
    startupRow('exporter --help (esbuild bundle, plain node)', startup.exporterBundle),
    startupRow(
      'exporter --list of the chart in helm/ (./scripts/export-images.ts, Helm 3)',
      startup.exporterList,
    ),
    startupRow(
      'importer --help (esbuild bundle, plain node: what the hook Job runs)',
      startup.importerBundle,
    ),
    ...workloadRows(results.large),
    ...pushRows(results.large.workload.short, results.push),
    ...workloadRows(results.shared),
  ];
  rows.push({
    workload: scaling.subset.short,
    step: 'export',
    what: 'airlock export, gzip level 0 (scaling check)',
    cell: scaling.subsetExport,
    memory: true,
  });
  for (const point of results.scale ? [results.scale.small, results.scale.large] : []) {
    const row = (step: 'export' | 'import', what: string): Row => ({
      workload: point.workload.short,
      step,
      what,
      cell: point[step],
      memory: true,
    });
    rows.push(
      row('export', 'airlock export, gzip level 0 (scale check)'),
      row('import', 'airlock importer -> containerd (scale check)'),
    );
  }
  const list = verdicts(results);
  const passed = list.filter((verdict) => verdict.pass).length;
  const bullet = markdown ? '- ' : '';
  return [
    ...machineLines(results.machine).map((line) => `${bullet}${line}`),
    ...[
      results.large.workload,
      results.shared.workload,
      scaling.subset,
      ...(results.scale ? [results.scale.small.workload, results.scale.large.workload] : []),
    ].map(
      (workload) =>
        `${bullet}${workload.short}: ${workload.label}; ${(workload.uniqueBytes / MIB).toFixed(1)} MiB distinct blobs, ${(workload.totalBytes / MIB).toFixed(1)} MiB counted per image`,
    ),
    `${bullet}settings: BENCH_LARGE_MB=${(settings.largeBytes / MIB).toFixed(0)} BENCH_SMALL_COUNT=${settings.smallCount} BENCH_SMALL_SUBSET=${settings.smallSubset} BENCH_REPS=${settings.reps} BENCH_SCALE_COUNT=${settings.scaleCount}; median of ${settings.reps} run(s) per cell`,
    '',
    render(HEADER, rows.map(cells)),
    '',
    render(['verdict', 'budget', 'workload', 'measured'], verdictRows(list)),
    '',
    `${passed}/${list.length} budgets met`,
  ].join('\n');
};
