import type { DiscoverOptions } from './types.ts';

/** The helm binary when none is given: the one on PATH. */
export const DEFAULT_HELM = 'helm';

export interface DiscoverySettings extends DiscoverOptions {
  helm: string | false;
  releaseName: string;
  valuesFiles: string[];
  set: string[];
  additionalImages: string[];
  exclude: string[];
  includeUnrendered: boolean;
}

/** Defaults in one place; an option given as undefined counts as not given. */
export const withDefaults = (options: DiscoverOptions): DiscoverySettings => ({
  ...options,
  helm: options.helm ?? DEFAULT_HELM,
  releaseName: options.releaseName ?? 'airlock',
  valuesFiles: options.valuesFiles ?? [],
  set: options.set ?? [],
  additionalImages: options.additionalImages ?? [],
  exclude: options.exclude ?? [],
  includeUnrendered: options.includeUnrendered ?? false,
});
