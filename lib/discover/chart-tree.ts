import type { LoadedChart } from './chart.ts';
import { mergeValues, valueAt } from './merge-values.ts';
import { isPlainObject, type Values } from './yaml-file.ts';

/** A values file or `--set` layered over the chart's defaults, kept apart so findings can name where they came from. */
export interface ValuesLayer {
  label: string;
  values: Values;
}

/** One chart of the tree with the values helm would give it. */
export interface ChartInContext {
  chart: LoadedChart;
  /** Merged values as the chart sees them: defaults, parent overrides, user layers, parent globals. */
  values: Values;
  /** User layers narrowed to this chart's part of them. */
  layers: ValuesLayer[];
  /** Values path of this chart as the top-level user writes it: '' or `redis.` or `redis.metrics.`. */
  prefix: string;
  /** Why helm would not render this chart (`redis.enabled is false`), if it would not. */
  disabledBy?: string;
}

const subtree = (values: Values, key: string): Values => {
  const value = values[key];
  return isPlainObject(value) ? value : {};
};

/** As helm: the first path of a comma-separated condition that holds a boolean decides. */
const evaluateCondition = (condition: string, parentValues: Values): boolean | undefined => {
  for (const path of condition.split(',')) {
    const value = valueAt(parentValues, path.trim());
    if (typeof value === 'boolean') return value;
  }
  return undefined;
};

/** Gives a subchart its part of the parent's values and the parent's globals, parent winning as in helm. */
const subchartValues = (defaults: Values, parentValues: Values, key: string): Values => {
  const merged = mergeValues(defaults, subtree(parentValues, key));
  const parentGlobal = subtree(parentValues, 'global');
  return { ...merged, global: mergeValues(subtree(merged, 'global'), parentGlobal) };
};

/** Every chart of the tree, top first, with its effective values. */
export const chartsInContext = (chart: LoadedChart, layers: ValuesLayer[]): ChartInContext[] => {
  let values = chart.values;
  for (const layer of layers) values = mergeValues(values, layer.values);
  const result: ChartInContext[] = [];
  const visit = (context: ChartInContext) => {
    result.push(context);
    for (const sub of context.chart.subcharts) {
      const enabled = sub.condition ? evaluateCondition(sub.condition, context.values) : undefined;
      const disabledBy =
        context.disabledBy ?? (enabled === false ? `${context.prefix}${sub.condition} is false` : undefined);
      visit({
        chart: sub.chart,
        values: subchartValues(sub.chart.values, context.values, sub.key),
        layers: context.layers.map((layer) => ({
          label: layer.label,
          values: subtree(layer.values, sub.key),
        })),
        prefix: `${context.prefix}${sub.key}.`,
        ...(disabledBy ? { disabledBy } : {}),
      });
    }
  };
  visit({ chart, values, layers, prefix: '' });
  return result;
};
