// The chart as Helm renders it for the demo: the images the release's own pods ask the runtime for, and the
// settings of the install.
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { run } from '../../lib/exec/run.ts';
import { REPOSITORY_ROOT } from '../build-importer-image.ts';

export const CHART_DIR = `${REPOSITORY_ROOT}/helm`;
export const RELEASE = 'demo';
export const NAMESPACE = 'demo';

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
  /** Every image the release's workloads make kubelet ask for, as written in the pod specs. */
  applicationImages: string[];
}

/** What `helm install` gets: the import hook on, every node the API lists, each runs the bundle in its pause image. */
export const INSTALL_SETTINGS: readonly string[] = ['imagePull.enabled=true'];

/** `helm install`'s default imagePull.imagesPath for this chart: where every node holds the images directory. */
export const NODE_IMAGES_PATH = '/opt/airlock-demo/images';

const imagesOf = (workload: Workload): string[] => {
  const spec = workload.spec?.template?.spec;
  return spec ? [...(spec.initContainers ?? []), ...spec.containers].map((container) => container.image) : [];
};

/** `helm template` without the hook: the images the release's own pods ask for. */
export const renderChart = async (helm: string): Promise<RenderedChart> => {
  const { stdout } = await run(helm, ['template', RELEASE, CHART_DIR, '--namespace', NAMESPACE]);
  const workloads = parseAllDocuments(stdout)
    .map((document): unknown => document.toJS())
    .filter((value) => value !== null && value !== undefined)
    .map((document) => Workload.parse(document));
  return {
    objects: workloads.map((workload) => `${workload.kind}/${workload.metadata.name}`),
    applicationImages: [...new Set(workloads.flatMap(imagesOf))],
  };
};
