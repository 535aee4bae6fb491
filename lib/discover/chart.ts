import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
// zod/mini, not zod: discovery runs at every start-up (`--list` included), and the mini build is a fraction
// of the classic one to load. Its messages need the English locale, which the classic build installs itself.
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { AirlockError } from '../errors.ts';
import { readYamlMap, type Values } from './yaml-file.ts';

z.config(en());

const ChartDependency = z.looseObject({
  name: z.string(),
  alias: z.optional(z.string()),
  condition: z.optional(z.string()),
  repository: z.optional(z.string()),
  version: z.optional(z.string()),
});
type ChartDependency = z.infer<typeof ChartDependency>;

/** The parts of Chart.yaml discovery reads; helm validates the rest. */
export const ChartMetadata = z.looseObject({
  name: z.string(),
  version: z.optional(z.union([z.string(), z.number()])),
  appVersion: z.optional(z.union([z.string(), z.number()])),
  annotations: z.optional(z.record(z.string(), z.unknown())),
  dependencies: z.optional(z.array(ChartDependency)),
});
export type ChartMetadata = z.infer<typeof ChartMetadata>;

export interface LoadedChart {
  dir: string;
  /** How a person finds it: `mychart`, `mychart/charts/redis`. */
  label: string;
  metadata: ChartMetadata;
  /** The chart's own values.yaml. */
  values: Values;
  subcharts: Subchart[];
}

export interface Subchart {
  /** The key the parent's values configure it under: the dependency's alias, else its name. */
  key: string;
  /** A Chart.yaml `condition` such as `redis.enabled`, evaluated against the parent's values. */
  condition?: string;
  chart: LoadedChart;
}

/** Charts packaged as `.tgz` are unpacked into temporary directories; `close` removes them. */
export interface ChartWorkspace {
  chart: LoadedChart;
  close(): Promise<void>;
}

const isTarball = (path: string): boolean => /\.(tgz|tar\.gz)$/.test(path);

const exists = async (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

const unpack = async (archive: string, temporaryDirs: string[]): Promise<string> => {
  const target = await mkdtemp(join(tmpdir(), 'airlock-chart-'));
  temporaryDirs.push(target);
  try {
    // Loaded here: a packaged chart is the exception, and tar is not small to load.
    const { x: extractTar } = await import('tar');
    await extractTar({ file: archive, cwd: target, strict: true });
  } catch (error) {
    throw new AirlockError(
      'BAD_INPUT',
      `${archive}: not a packaged chart (.tgz): ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  // `helm package` puts everything under one directory named after the chart.
  const entries = await readdir(target, { withFileTypes: true });
  const top = entries.find((entry) => entry.isDirectory());
  if (!top) throw new AirlockError('BAD_INPUT', `${archive}: packaged chart has no chart directory inside`);
  return join(target, top.name);
};

const readMetadata = async (dir: string, label: string): Promise<ChartMetadata> => {
  const file = join(dir, 'Chart.yaml');
  if (!(await exists(file))) {
    throw new AirlockError(
      'BAD_INPUT',
      `${label}: no Chart.yaml — point --chart at a Helm chart directory (the one holding Chart.yaml)`,
    );
  }
  const parsed = ChartMetadata.safeParse(await readYamlMap(file, `${label}/Chart.yaml`));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AirlockError(
      'BAD_INPUT',
      `${label}/Chart.yaml: ${issue?.path.join('.') || 'document'}: ${issue?.message ?? 'invalid'}`,
      { cause: parsed.error },
    );
  }
  return parsed.data;
};

const missingDependencyError = (label: string, dependency: ChartDependency, chartPath: string) =>
  new AirlockError(
    'BAD_INPUT',
    `${label}: Chart.yaml depends on ${dependency.name}${dependency.repository ? ` (${dependency.repository})` : ''} ` +
      `but ${label}/charts/ has no ${dependency.name} — run 'helm dependency build ${chartPath}' on a connected host first`,
  );

const loadChartDir = async (
  dir: string,
  label: string,
  chartPath: string,
  temporaryDirs: string[],
): Promise<LoadedChart> => {
  const metadata = await readMetadata(dir, label);
  const valuesFile = join(dir, 'values.yaml');
  const values = (await exists(valuesFile)) ? await readYamlMap(valuesFile, `${label}/values.yaml`) : {};

  const found = new Map<string, LoadedChart>();
  const chartsDir = join(dir, 'charts');
  const entries = (await exists(chartsDir)) ? await readdir(chartsDir, { withFileTypes: true }) : [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const entryPath = join(chartsDir, entry.name);
    const subLabel = `${label}/charts/${entry.name}`;
    let subDir: string | undefined;
    if (entry.isDirectory() && (await exists(join(entryPath, 'Chart.yaml')))) subDir = entryPath;
    else if (entry.isFile() && isTarball(entry.name)) subDir = await unpack(entryPath, temporaryDirs);
    if (!subDir) continue;
    const sub = await loadChartDir(subDir, subLabel, chartPath, temporaryDirs);
    found.set(sub.metadata.name, sub);
  }

  const subcharts: Subchart[] = [];
  const claimed = new Set<string>();
  for (const dependency of metadata.dependencies ?? []) {
    const chart = found.get(dependency.name);
    if (!chart) throw missingDependencyError(label, dependency, chartPath);
    claimed.add(dependency.name);
    subcharts.push({
      key: dependency.alias ?? dependency.name,
      ...(dependency.condition ? { condition: dependency.condition } : {}),
      chart,
    });
  }
  // Charts vendored into charts/ without a dependencies entry are rendered by helm all the same.
  for (const [name, chart] of found) {
    if (!claimed.has(name)) subcharts.push({ key: name, chart });
  }
  return { dir, label, metadata, values, subcharts };
};

/** Reads a chart directory or `.tgz`, its values.yaml and every subchart under charts/ (directories or `.tgz`). */
export const openChart = async (chartPath: string): Promise<ChartWorkspace> => {
  const temporaryDirs: string[] = [];
  const close = async () => {
    for (const dir of temporaryDirs) await rm(dir, { recursive: true, force: true });
  };
  try {
    const info = await stat(chartPath).catch((error: unknown) => {
      throw new AirlockError('BAD_INPUT', `${chartPath}: chart not found — check the chart path`, {
        cause: error,
      });
    });
    const dir = info.isFile() && isTarball(chartPath) ? await unpack(chartPath, temporaryDirs) : chartPath;
    const label = info.isFile() ? basename(chartPath) : chartPath;
    const chart = await loadChartDir(dir, label, chartPath, temporaryDirs);
    return { chart, close };
  } catch (error) {
    await close();
    throw error;
  }
};
