import { parse } from 'yaml';
import { parseReference } from '../reference/index.ts';
import type { ChartInContext } from './chart-tree.ts';
import type { ImageMention } from './types.ts';
import { isPlainObject } from './yaml-file.ts';

/**
 * Chart.yaml annotations that list a chart's images for air-gap tools, each a YAML document in a string:
 * Artifact Hub's list of {name, image, whitelisted?, platforms?}, HIP-0015's list of {name?, image} or plain
 * strings (Zarf, Hauler), and bitnami's list of {name, image} (Hauler).
 */
export const IMAGE_ANNOTATIONS = ['artifacthub.io/images', 'helm.sh/images', 'images'] as const;

export interface AnnotationScan {
  mentions: ImageMention[];
  /** Listed by a subchart helm would not render. */
  disabled: ImageMention[];
  warnings: string[];
}

const imageOf = (item: unknown): string | undefined => {
  if (typeof item === 'string') return item.trim() || undefined;
  if (isPlainObject(item) && typeof item.image === 'string') return item.image.trim() || undefined;
  return undefined;
};

const scanChartAnnotations = (context: ChartInContext, scan: AnnotationScan): void => {
  const file = `${context.chart.label}/Chart.yaml`;
  const annotations = context.chart.metadata.annotations ?? {};
  for (const key of IMAGE_ANNOTATIONS) {
    const text = annotations[key];
    if (typeof text !== 'string') continue;
    let list: unknown;
    try {
      list = parse(text);
    } catch (error) {
      scan.warnings.push(
        `${file}: annotation ${key} is not valid YAML, ignored: ${(error as Error).message.split('\n')[0]}`,
      );
      continue;
    }
    if (!Array.isArray(list)) {
      scan.warnings.push(`${file}: annotation ${key} is not a YAML list of images, ignored`);
      continue;
    }
    for (const [index, item] of list.entries()) {
      const written = imageOf(item);
      const location = `annotations["${key}"][${index}]`;
      if (!written) {
        scan.warnings.push(`${file}: ${location}: no image in this entry, ignored`);
        continue;
      }
      try {
        parseReference(written);
      } catch (error) {
        scan.warnings.push(`${file}: ${location}: skipped ${(error as Error).message}`);
        continue;
      }
      const mention: ImageMention = { written, source: { kind: 'annotation', file, location } };
      (context.disabledBy ? scan.disabled : scan.mentions).push(mention);
    }
  }
};

/** Reads the image annotations of the chart and of every subchart. */
export const scanAnnotations = (charts: readonly ChartInContext[]): AnnotationScan => {
  const scan: AnnotationScan = { mentions: [], disabled: [], warnings: [] };
  for (const context of charts) scanChartAnnotations(context, scan);
  return scan;
};
