import { AirlockError } from '../errors.ts';
import { CommandError, run } from '../exec/run.ts';
import { cachedHelmVersion } from './helm-version.ts';
import { type DiscoverySettings, withDefaults } from './settings.ts';
import type { DiscoverOptions, Rendering } from './types.ts';

export { DEFAULT_HELM } from './settings.ts';

export interface HelmTemplateOptions {
  helm: string;
  chart: string;
  releaseName: string;
  namespace?: string;
  kubeVersion?: string;
  valuesFiles: readonly string[];
  set: readonly string[];
}

const HELM_TIMEOUT_MS = 120_000;

export const helmTemplateArgs = (options: HelmTemplateOptions): string[] => [
  'template',
  options.releaseName,
  options.chart,
  // Test pods run only on `helm test`, never on install: their images are not the chart's to export.
  '--skip-tests',
  ...(options.namespace ? ['--namespace', options.namespace] : []),
  ...(options.kubeVersion ? ['--kube-version', options.kubeVersion] : []),
  ...options.valuesFiles.flatMap((file) => ['--values', file]),
  ...options.set.flatMap((expression) => ['--set', expression]),
];

/**
 * `v3.18.0+gcc58e3f` or `v4.1.4+g05fa379`, asked once per helm binary (see cachedHelmVersion); throws
 * CommandError (TOOL_MISSING) when helm is not there.
 */
export const helmVersion = (helm: string): Promise<string> =>
  cachedHelmVersion(helm, async (program) => {
    const { stdout } = await run(program, ['version', '--short'], { timeout: HELM_TIMEOUT_MS });
    return stdout.trim();
  });

/**
 * Renders the chart as `helm install` would, hooks included (helm template prints them).
 * A missing helm is rethrown as the CommandError (TOOL_MISSING) so the caller can fall back;
 * any other failure is the user's to fix and carries helm's own message and the command.
 */
export const renderChart = async (options: HelmTemplateOptions): Promise<string> => {
  try {
    const { stdout } = await run(options.helm, helmTemplateArgs(options), { timeout: HELM_TIMEOUT_MS });
    return stdout;
  } catch (error) {
    if (error instanceof CommandError && error.code === 'TOOL_MISSING') throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new AirlockError('BAD_INPUT', `helm template failed: ${message}`, { cause: error });
  }
};

const render = async (settings: DiscoverySettings & { helm: string }): Promise<Rendering> => {
  const manifests = await renderChart(settings);
  // After the render, not beside it: two helm processes at once add 44 MB to the export's peak memory.
  return { manifests, version: await helmVersion(settings.helm) };
};

/**
 * Starts rendering the chart as discovery would, for a caller that has more to load first: helm then works
 * while node loads discovery. Undefined when rendering is switched off; the promise's rejection is the
 * caller's to see, once it awaits it.
 */
export const startRendering = (options: DiscoverOptions): Promise<Rendering> | undefined => {
  const settings = withDefaults(options);
  const { helm } = settings;
  if (helm === false) return undefined;
  const rendering = render({ ...settings, helm });
  rendering.catch(() => undefined);
  return rendering;
};
