import { AirlockError } from '../errors.ts';
import { CommandError, run } from '../exec/run.ts';

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
/** The helm binary when none is given: the one on PATH. */
export const DEFAULT_HELM = 'helm';

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

/** `v3.18.0+gcc58e3f` or `v4.1.4+g05fa379`; throws CommandError (TOOL_MISSING) when helm is not there. */
export const helmVersion = async (helm: string): Promise<string> => {
  const { stdout } = await run(helm, ['version', '--short'], { timeout: HELM_TIMEOUT_MS });
  return stdout.trim();
};

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
