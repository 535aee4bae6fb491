import { isAirlockError } from '../errors.ts';
import { CommandError } from '../exec/run.ts';
import { silentLogger } from '../report/log.ts';
import { type AnnotationScan, scanAnnotations } from './annotations.ts';
import { type ChartMetadata, openChart } from './chart.ts';
import { type ChartInContext, chartsInContext, type ValuesLayer } from './chart-tree.ts';
import { startRendering } from './helm-template.ts';
import { scanRendered } from './rendered.ts';
import {
  addDeclaredImages,
  collectImages,
  configuredMentions,
  excludeImages,
  imageWarnings,
  mergeImages,
  partitionByRendered,
  type RenderedPartition,
} from './select.ts';
import { parseSetValues } from './set-values.ts';
import { DEFAULT_HELM, type DiscoverySettings, withDefaults } from './settings.ts';
import type { DiscoveredImage, DiscoverOptions, DiscoveryResult, Rendering } from './types.ts';
import { scanValues, type ValuesScan } from './values.ts';
import { readYamlMap } from './yaml-file.ts';

export const HELM_MISSING_WARNING =
  'helm not found on PATH: images come from values.yaml and Chart.yaml only; install helm 3.8+ for an exact list';
export const HELM_SKIPPED_WARNING =
  'chart not rendered (helm disabled): images come from values.yaml and Chart.yaml only; enable helm for an exact list';

/** Renders with helm, or returns undefined (and says why) when helm is switched off or not installed. */
const tryRender = async (options: DiscoverySettings, warnings: string[]): Promise<Rendering | undefined> => {
  const { helm } = options;
  if (helm === false) {
    warnings.push(HELM_SKIPPED_WARNING);
    return undefined;
  }
  try {
    return await (options.rendering ?? startRendering(options));
  } catch (error) {
    if (error instanceof CommandError && error.code === 'TOOL_MISSING') {
      warnings.push(
        helm === DEFAULT_HELM ? HELM_MISSING_WARNING : HELM_MISSING_WARNING.replace('on PATH', `at ${helm}`),
      );
      return undefined;
    }
    throw error;
  }
};

/** `--set` for the values scan; when helm already accepted them, a form this parser does not know is only a gap. */
const setLayer = (set: readonly string[], rendered: boolean, warnings: string[]): ValuesLayer[] => {
  if (set.length === 0) return [];
  try {
    return [{ label: '--set', values: parseSetValues(set) }];
  } catch (error) {
    if (!rendered || !isAirlockError(error)) throw error;
    warnings.push(`${error.message}: ignored by the values scan (helm rendered it)`);
    return [];
  }
};

/**
 * Rendered images (or, without helm, the values' enabled images) are the base; annotated images join them
 * (see addDeclaredImages); values images of components switched off stay in notRendered.
 */
const selectImages = (
  base: readonly DiscoveredImage[],
  values: ValuesScan,
  annotations: AnnotationScan,
  contexts: readonly ChartInContext[],
): RenderedPartition => {
  const switchedOff = collectImages([
    ...scanValues(contexts.filter((context) => context.disabledBy)).disabled,
    ...annotations.disabled,
  ]);
  const configured = collectImages([...values.mentions, ...values.disabled]);
  const declared = addDeclaredImages(base, collectImages(annotations.mentions), { switchedOff, configured });
  const fromValues = partitionByRendered(declared.images, configured);
  return {
    images: fromValues.images,
    notRendered: mergeImages(
      fromValues.notRendered,
      [...declared.notRendered, ...collectImages(annotations.disabled)].filter(
        (image) => !fromValues.notRendered.some((other) => other.reference === image.reference),
      ),
    ),
  };
};

const chartIdentity = ({ name, version }: ChartMetadata): DiscoveryResult['chart'] => ({
  name,
  ...(version === undefined ? {} : { version: String(version) }),
});

/**
 * With helm, what the chart renders is the list: values and Chart.yaml findings only confirm a rendered image (under
 * its own name or, when a global gave it another registry, the same path, tag and digest) or land in notRendered.
 * An image Chart.yaml declares that the chart does not render is "declared, not rendered", like a disabled sidecar.
 */
const selectRendered = (
  base: readonly DiscoveredImage[],
  values: ValuesScan,
  annotations: AnnotationScan,
): RenderedPartition => {
  const configured = collectImages([...values.mentions, ...values.disabled]);
  const declared = collectImages([...annotations.mentions, ...annotations.disabled]);
  const fromValues = partitionByRendered(base, configured, { acrossRegistries: true });
  const fromChart = partitionByRendered(fromValues.images, declared, { acrossRegistries: true });
  return {
    images: fromChart.images,
    notRendered: mergeImages(fromValues.notRendered, fromChart.notRendered),
  };
};

/**
 * Finds every image a chart will run. With helm, the rendered manifests are the list (see selectRendered).
 * Without helm, the values' enabled images are the base and the images Chart.yaml declares join them
 * (see addDeclaredImages): the author's list is the best guess left when nothing renders the chart.
 */
export const discoverImages = async (options: DiscoverOptions): Promise<DiscoveryResult> => {
  const settings = withDefaults(options);
  const logger = options.logger ?? silentLogger;
  const warnings: string[] = [];
  const workspace = await openChart(settings.chart);
  try {
    const fileLayers: ValuesLayer[] = [];
    for (const file of settings.valuesFiles)
      fileLayers.push({ label: file, values: await readYamlMap(file) });

    const rendering = await tryRender(settings, warnings);
    const contexts = chartsInContext(workspace.chart, [
      ...fileLayers,
      ...setLayer(settings.set, rendering !== undefined, warnings),
    ]);
    const values = scanValues(contexts);
    const annotations = scanAnnotations(contexts);
    warnings.push(...values.warnings, ...annotations.warnings);

    let selected: RenderedPartition;
    let own: DiscoveredImage[] = [];
    if (rendering) {
      const rendered = scanRendered(rendering.manifests);
      warnings.push(...rendered.warnings);
      selected = selectRendered(collectImages(rendered.mentions), values, annotations);
      own = collectImages(rendered.own);
      selected.notRendered = selected.notRendered.filter(
        (image) => !own.some((mine) => mine.reference === image.reference),
      );
    } else {
      selected = selectImages(collectImages(values.mentions), values, annotations, contexts);
    }
    let { images, notRendered } = selected;

    const configured = collectImages(configuredMentions(settings.additionalImages));
    images = mergeImages(images, configured);
    notRendered = notRendered.filter((image) => !images.some((kept) => kept.reference === image.reference));

    const excluded = excludeImages(images, settings.exclude);
    images = excluded.kept;
    notRendered = excludeImages(notRendered, settings.exclude).kept;
    for (const image of excluded.excluded) logger.debug(`excluded by config: ${image.reference}`);
    for (const image of notRendered) {
      const source = image.sources[0];
      logger.debug(
        `not rendered: ${image.reference}${source ? ` (${source.file}: ${source.location})` : ''}`,
      );
    }
    if (settings.includeUnrendered) images = mergeImages(images, notRendered);

    warnings.push(...imageWarnings(images));
    return {
      images,
      notRendered,
      ...(own.length > 0 ? { own } : {}),
      warnings,
      rendered: rendering !== undefined,
      ...(rendering ? { helmVersion: rendering.version, manifests: rendering.manifests } : {}),
      chart: chartIdentity(workspace.chart.metadata),
    };
  } finally {
    await workspace.close();
  }
};
