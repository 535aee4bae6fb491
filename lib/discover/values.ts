import { parseReference } from '../reference/index.ts';
import type { ChartInContext } from './chart-tree.ts';
import { valueAt } from './merge-values.ts';
import { joinPath as join } from './paths.ts';
import type { ImageMention } from './types.ts';
import { isPlainObject, type Values } from './yaml-file.ts';

export interface ValuesScan {
  /** Images the values configure for components that look enabled. */
  mentions: ImageMention[];
  /** Images under `enabled: false` or in a subchart whose condition is false: helm would not render them. */
  disabled: ImageMention[];
  warnings: string[];
}

const scalar = (value: unknown): string | undefined => {
  if (typeof value === 'string') return value.trim() === '' ? undefined : value.trim();
  if (typeof value === 'number') return String(value);
  return undefined;
};

const looksLikeImageKey = (key: string): boolean => /image$/i.test(key);

const asDigest = (value: string | undefined): string | undefined =>
  value && /^[a-f0-9]{64}$/.test(value) ? `sha256:${value}` : value;

interface ImageContext {
  key: string;
  globalRegistry: string | undefined;
  appVersion: string | undefined;
}

/**
 * The reference an image map stands for, following the conventions charts use in the wild:
 * - `{registry, repository, tag, digest}` (Bitnami, cert-manager): `global.imageRegistry` wins over `registry`,
 *   a digest replaces the tag (bitnami's common.images.image);
 * - `{registry, image, tag, digest|sha}` (ingress-nginx): `registry/image:tag@digest`;
 * - `{repository, tag}` and `{name, tag}` under an `...image` key;
 * an empty tag falls back to the chart's appVersion, as `.tag | default .Chart.AppVersion` does.
 * Returns undefined for maps that are not images.
 */
export const referenceFromImageMap = (map: Values, context: ImageContext): string | undefined => {
  const repository = scalar(map.repository);
  const imageName = scalar(map.image);
  const name = looksLikeImageKey(context.key) ? scalar(map.name) : undefined;
  const hasImageFields = 'tag' in map || 'digest' in map || 'registry' in map || 'sha' in map;
  if (!repository && !(imageName && hasImageFields) && !(name && 'tag' in map)) return undefined;
  if (repository && !looksLikeImageKey(context.key) && !hasImageFields) return undefined;

  const registry = ('registry' in map ? context.globalRegistry : undefined) ?? scalar(map.registry);
  const tag = scalar(map.tag) ?? context.appVersion;
  const digest = asDigest(scalar(map.digest) ?? scalar(map.sha));
  const prefix = registry ? `${registry.replace(/\/+$/, '')}/` : '';
  if (repository) {
    const version = digest ? `@${digest}` : tag ? `:${tag}` : '';
    return `${prefix}${repository}${version}`;
  }
  const repositoryPath = imageName ?? name!;
  return `${prefix}${repositoryPath}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
};

/** Names the layer that set anything under `path`, else the chart's own values.yaml. */
const fileOf = (context: ChartInContext, path: string): string => {
  for (const layer of [...context.layers].reverse()) {
    if (valueAt(layer.values, path) !== undefined) return layer.label;
  }
  return `${context.chart.label}/values.yaml`;
};

/** Scans one chart's effective values for image strings and image maps. */
const scanChartValues = (context: ChartInContext, scan: ValuesScan): void => {
  const globalRegistry = scalar(valueAt(context.values, 'global.imageRegistry'));
  const appVersion = scalar(context.chart.metadata.appVersion);

  const record = (written: string, path: string, disabledBy: string | undefined, pullPolicy?: unknown) => {
    if (written.includes('{{')) return; // rendered by tpl at install time; only helm can tell
    const file = fileOf(context, path);
    const location = `${context.prefix}${path}`;
    try {
      parseReference(written);
    } catch (error) {
      scan.warnings.push(`${file}: ${location}: skipped ${(error as Error).message}`);
      return;
    }
    const mention: ImageMention = {
      written,
      source: { kind: 'values', file, location },
      ...(typeof pullPolicy === 'string' ? { pullPolicy } : {}),
    };
    (disabledBy ? scan.disabled : scan.mentions).push(mention);
  };

  const walk = (node: unknown, path: string, key: string, disabledBy: string | undefined): void => {
    if (Array.isArray(node)) {
      for (const [index, item] of node.entries()) walk(item, join(path, index), key, disabledBy);
      return;
    }
    if (!isPlainObject(node)) return;
    const disabled =
      disabledBy ??
      (node.enabled === false ? `${context.prefix}${join(path, 'enabled')} is false` : undefined);
    const fromMap =
      path === '' ? undefined : referenceFromImageMap(node, { key, globalRegistry, appVersion });
    if (fromMap) {
      record(fromMap, path, disabled, node.pullPolicy);
      return;
    }
    for (const [childKey, child] of Object.entries(node)) {
      const childPath = join(path, childKey);
      const text = looksLikeImageKey(childKey) ? scalar(child) : undefined;
      if (text && typeof child === 'string')
        record(text, childPath, disabled, node.imagePullPolicy ?? node.pullPolicy);
      else walk(child, childPath, childKey, disabled);
    }
  };

  walk(context.values, '', '', context.disabledBy);
};

/** Finds the images configured in values.yaml, user values files and `--set`, in the chart and its subcharts. */
export const scanValues = (charts: readonly ChartInContext[]): ValuesScan => {
  const scan: ValuesScan = { mentions: [], disabled: [], warnings: [] };
  for (const context of charts) scanChartValues(context, scan);
  return scan;
};
