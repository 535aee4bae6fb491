import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { CommandError, run } from '../../lib/exec/run.ts';

/** The chart under test. */
export const chartDir = fileURLToPath(new URL('../../helm', import.meta.url));

export const RELEASE = 'demo';
export const NAMESPACE = 'shop';

/** Both Helm majors from the rig, for `describe.each(helmBinaries())('$name', ({ path }) => ...)`. */
export const helmBinaries = (): { name: string; path: string }[] => {
  const { helm } = inject('rig');
  return [
    { name: `Helm ${helm.v3.version}`, path: helm.v3.path },
    { name: `Helm ${helm.v4.version}`, path: helm.v4.path },
  ];
};

/** The part of a Kubernetes object every rendered document has; the rest is read through the helpers below. */
export const KubernetesObject = z.looseObject({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: z.looseObject({
    name: z.string(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
});
export type KubernetesObject = z.infer<typeof KubernetesObject>;

export const Container = z.looseObject({
  name: z.string(),
  image: z.string(),
  imagePullPolicy: z.string().optional(),
  command: z.array(z.string()).optional(),
  workingDir: z.string().optional(),
  env: z
    .array(
      z.looseObject({
        name: z.string(),
        value: z.string().optional(),
        valueFrom: z.looseObject({ fieldRef: z.object({ fieldPath: z.string() }).optional() }).optional(),
      }),
    )
    .optional(),
  securityContext: z.record(z.string(), z.unknown()).optional(),
  resources: z.record(z.string(), z.unknown()).optional(),
  volumeMounts: z
    .array(z.looseObject({ name: z.string(), mountPath: z.string(), readOnly: z.boolean().optional() }))
    .optional(),
});
export type Container = z.infer<typeof Container>;

export const PodSpec = z.looseObject({
  nodeName: z.string().optional(),
  nodeSelector: z.record(z.string(), z.string()).optional(),
  tolerations: z.array(z.record(z.string(), z.unknown())).optional(),
  securityContext: z.record(z.string(), z.unknown()).optional(),
  initContainers: z.array(Container).optional(),
  containers: z.array(Container),
  volumes: z
    .array(
      z.looseObject({
        name: z.string(),
        hostPath: z.object({ path: z.string(), type: z.string().optional() }).optional(),
        emptyDir: z.record(z.string(), z.unknown()).optional(),
      }),
    )
    .optional(),
});
export type PodSpec = z.infer<typeof PodSpec>;

const WithPodTemplate = z.looseObject({
  spec: z.looseObject({
    template: z.looseObject({
      metadata: z.looseObject({ labels: z.record(z.string(), z.string()).optional() }).optional(),
      spec: PodSpec,
    }),
  }),
});

/** Parses a multi-document manifest as Helm prints it; empty documents (disabled templates) are dropped. */
export const parseDocuments = (text: string): KubernetesObject[] =>
  parseAllDocuments(text)
    .map((document): unknown => document.toJS())
    .filter((value) => value !== null && value !== undefined)
    .map((value) => KubernetesObject.parse(value));

const ListDocument = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('List'),
  items: z.array(z.unknown()),
});

/** The objects a manifest makes, as Helm's kube client builds them: a v1 List stands for its items. */
export const flattenLists = (documents: readonly KubernetesObject[]): KubernetesObject[] =>
  documents.flatMap((document) => {
    const list = ListDocument.safeParse(document);
    return list.success ? list.data.items.map((item) => KubernetesObject.parse(item)) : [document];
  });

export const parseManifests = (text: string): KubernetesObject[] => flattenLists(parseDocuments(text));

/** The pod spec of a workload (Deployment, Job, ...), or undefined for objects without pods. */
export const podSpecOf = (object: KubernetesObject): PodSpec | undefined => {
  const parsed = WithPodTemplate.safeParse(object);
  return parsed.success ? parsed.data.spec.template.spec : undefined;
};

export const podLabelsOf = (object: KubernetesObject): Record<string, string> =>
  WithPodTemplate.parse(object).spec.template.metadata?.labels ?? {};

export const containersOf = (spec: PodSpec): Container[] => [
  ...(spec.initContainers ?? []),
  ...spec.containers,
];

/** Every image reference the objects would make kubelet ask for, in render order, without repeats. */
export const imagesOf = (objects: readonly KubernetesObject[]): string[] => {
  const images = objects.flatMap((object) => {
    const spec = podSpecOf(object);
    return spec ? containersOf(spec).map((container) => container.image) : [];
  });
  return [...new Set(images)];
};

export const ofKind = (objects: readonly KubernetesObject[], kind: string): KubernetesObject[] =>
  objects.filter((object) => object.kind === kind);

/** The import hook's per-node Jobs (not the post-delete cleanup Job). */
export const importJobsOf = (objects: readonly KubernetesObject[]): KubernetesObject[] =>
  ofKind(objects, 'Job').filter(
    (job) => job.metadata.labels?.['app.kubernetes.io/component'] === 'image-import',
  );

/** Writes values as a file for `--values`: JSON is YAML, and a file keeps types exact where --set guesses. */
const withValuesFile = async <T>(values: object, use: (args: string[]) => Promise<T>): Promise<T> => {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-chart-'));
  try {
    const file = join(dir, 'values.json');
    await writeFile(file, JSON.stringify(values));
    return await use(['--values', file]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

/** `helm template` of the chart with the given values; returns the documents as printed (Lists kept whole). */
export const renderDocuments = async (helm: string, values: object = {}): Promise<KubernetesObject[]> =>
  withValuesFile(values, async (valuesArgs) => {
    const { stdout } = await run(helm, [
      'template',
      RELEASE,
      chartDir,
      '--namespace',
      NAMESPACE,
      ...valuesArgs,
    ]);
    return parseDocuments(stdout);
  });

/** `helm template` of the chart with the given values; returns the objects it makes (List items included). */
export const renderChart = async (helm: string, values: object = {}): Promise<KubernetesObject[]> =>
  flattenLists(await renderDocuments(helm, values));

/** The stderr of a `helm template` that is expected to fail. */
export const renderChartError = async (helm: string, values: object): Promise<string> =>
  withValuesFile(values, async (valuesArgs) => {
    try {
      await run(helm, ['template', RELEASE, chartDir, '--namespace', NAMESPACE, ...valuesArgs]);
    } catch (error) {
      if (error instanceof CommandError) return error.stderr;
      throw error;
    }
    throw new Error('helm template succeeded, but the values were expected to be rejected');
  });

/** What `helm install --dry-run -o json` prints: the release with its manifest, hooks and NOTES. */
const DryRunRelease = z.looseObject({
  manifest: z.string().default(''),
  hooks: z
    .array(z.looseObject({ manifest: z.string(), weight: z.number().optional() }))
    .nullish()
    .transform((hooks) => hooks ?? []),
  info: z.looseObject({ notes: z.string().default('') }),
});

export interface DryRunInstall {
  objects: KubernetesObject[];
  /** The hook objects, List items included. */
  hooks: KubernetesObject[];
  /** The hook documents as Helm records them (a List is one hook). */
  hookDocuments: KubernetesObject[];
  notes: string;
}

/**
 * `helm install --dry-run=<mode>` against the API server of `kubeconfig`. Only a dry run prints NOTES, and
 * only `server` mode lets `lookup` reach the API; OpenAPI validation is off because the fake API has no spec.
 */
export const installDryRun = async (
  helm: string,
  options: { kubeconfig: string; mode: 'client' | 'server'; values?: object },
): Promise<DryRunInstall> =>
  withValuesFile(options.values ?? {}, async (valuesArgs) => {
    const { stdout } = await run(helm, [
      'install',
      RELEASE,
      chartDir,
      '--namespace',
      NAMESPACE,
      `--dry-run=${options.mode}`,
      '--disable-openapi-validation',
      '--kubeconfig',
      options.kubeconfig,
      '--output',
      'json',
      ...valuesArgs,
    ]);
    const release = DryRunRelease.parse(JSON.parse(stdout));
    return {
      objects: parseManifests(release.manifest),
      hooks: release.hooks.flatMap((hook) => parseManifests(hook.manifest)),
      hookDocuments: release.hooks.flatMap((hook) => parseDocuments(hook.manifest)),
      notes: release.info.notes,
    };
  });
