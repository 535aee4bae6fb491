// The chart as Helm renders it for the demo: the import hook Job's pod spec, and the images the release's
// own pods ask the runtime for.
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { run } from '../../lib/exec/run.ts';
import { REPOSITORY_ROOT } from '../build-importer-image.ts';

export const CHART_DIR = `${REPOSITORY_ROOT}/helm`;
export const RELEASE = 'demo';
export const NAMESPACE = 'demo';
/** The node the kubelet stand-in plays. */
export const NODE_NAME = 'demo-node';

const Container = z.looseObject({ name: z.string(), image: z.string() });
const Workload = z.looseObject({
  kind: z.string(),
  metadata: z.looseObject({ name: z.string() }),
  spec: z
    .looseObject({
      template: z
        .looseObject({
          spec: z.looseObject({
            containers: z.array(Container),
            initContainers: z.array(Container).optional(),
          }),
        })
        .optional(),
    })
    .optional(),
});
type Workload = z.infer<typeof Workload>;

export interface RenderedChart {
  /** `kind/name` of every object, in render order. */
  objects: string[];
  /** The import hook Job's pod spec, as kubelet receives it. */
  hookPod: IPodSpec;
  hookJobName: string;
  /** Every image the release's workloads (not the hook) make kubelet ask for, as written in the pod specs. */
  applicationImages: string[];
}

/**
 * `--set` arguments shared by the export and the install: the hook, on one node, in image mode (the demo still
 * builds and loads the importer image; bundle mode needs no image at all).
 */
export const chartSettings = (): string[] => [
  'imagePull.enabled=true',
  `imagePull.nodes={${NODE_NAME}}`,
  'imagePull.importer.mode=image',
];

/** A v1 List (the hook's Jobs travel in one) stands for its items, as Helm's kube client builds it. */
const flattenLists = (documents: unknown[]): unknown[] =>
  documents.flatMap((document) => {
    const list = document as { apiVersion?: string; kind?: string; items?: unknown[] };
    return list.apiVersion === 'v1' && list.kind === 'List' && Array.isArray(list.items)
      ? list.items
      : [document];
  });

const imagesOf = (workload: Workload): string[] => {
  const spec = workload.spec?.template?.spec;
  return spec ? [...(spec.initContainers ?? []), ...spec.containers].map((container) => container.image) : [];
};

/** `helm template` with the settings `helm install --set ...` would get; returns the hook pod and the images. */
export const renderChart = async (helm: string, settings: readonly string[]): Promise<RenderedChart> => {
  const { stdout } = await run(helm, [
    'template',
    RELEASE,
    CHART_DIR,
    '--namespace',
    NAMESPACE,
    ...settings.flatMap((setting) => ['--set', setting]),
  ]);
  const documents = flattenLists(
    parseAllDocuments(stdout)
      .map((document): unknown => document.toJS())
      .filter((value) => value !== null && value !== undefined),
  );
  const workloads = documents.map((document) => Workload.parse(document));
  const jobs = workloads.filter((workload) => workload.kind === 'Job');
  const [job] = jobs;
  if (!job || jobs.length !== 1) {
    throw new Error(
      `helm template rendered ${jobs.length} import Jobs; the demo expects one (for ${NODE_NAME})`,
    );
  }
  const raw = documents[workloads.indexOf(job)] as { spec: { template: { spec: IPodSpec } } };
  const applicationImages = workloads.filter((workload) => workload.kind !== 'Job').flatMap(imagesOf);
  return {
    objects: workloads.map((workload) => `${workload.kind}/${workload.metadata.name}`),
    hookPod: raw.spec.template.spec,
    hookJobName: job.metadata.name,
    applicationImages: [...new Set(applicationImages)],
  };
};
