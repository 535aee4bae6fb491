import { parseAllDocuments } from 'yaml';
import { AirlockError } from '../errors.ts';
import { parseReference } from '../reference/index.ts';
import { type ConfigMapUse, configMapOfNode, scanConfigMapData, scanContainerText } from './embedded.ts';
import type { ImageMention } from './types.ts';
import { isPlainObject, joinPath as join, type Values } from './yaml-file.ts';

export interface RenderedScan {
  mentions: ImageMention[];
  /** The `image:` of airlock's own objects (see ObjectContext.airlock): never exported, not even as unrendered. */
  own: ImageMention[];
  warnings: string[];
}

interface RenderedConfigMap {
  name: string;
  file: string;
  data: Values;
}

/** The scan while documents are read: ConfigMaps and their uses are matched once every document is in. */
interface ScanState extends RenderedScan {
  configMaps: RenderedConfigMap[];
  configMapUses: ConfigMapUse[];
}

/** Kinds that never run anything: a CRD's schema may say `image`, a ConfigMap's data is opaque text. */
const INERT_KINDS = new Set(['CustomResourceDefinition', 'ConfigMap', 'Secret']);
const CONTAINER_LISTS = new Set(['containers', 'initContainers', 'ephemeralContainers']);
const SOURCE_COMMENT = /Source:\s*(\S+)/;

const sourceOf = (comment: string | null | undefined): string | undefined =>
  comment ? SOURCE_COMMENT.exec(comment)?.[1] : undefined;

/** The label every object of airlock's import hook carries (helm/templates/image-import). */
export const IMPORT_HOOK_LABEL = { key: 'app.kubernetes.io/component', value: 'image-import' } as const;

/** Components of helm/templates/image-import: the hook, the keeper of late nodes, and the cleanup on uninstall. */
const AIRLOCK_COMPONENTS = new Set([IMPORT_HOOK_LABEL.value, 'image-keeper', 'image-import-cleanup']);

interface ObjectContext {
  file: string;
  /** `Deployment/web` */
  object: string;
  /**
   * An object of airlock's own (AIRLOCK_COMPONENTS): its containers run in an image the node already holds
   * (bundle mode, the keeper) or the importer image `--importer image` writes, so their `image:` is not the
   * release's; their env (AIRLOCK_IMAGES, with imagePull.extraImages) still is.
   */
  airlock: boolean;
}

/** The image of one of airlock's own containers, at `path` of the object. */
const ownMention = (written: string, context: ObjectContext, path: string): ImageMention => ({
  written,
  source: { kind: 'rendered', file: context.file, location: `${context.object}: ${join(path, 'image')}` },
});

const scanObject = (root: Values, context: ObjectContext, scan: ScanState): void => {
  const record = (written: string, path: string, strict: boolean, pullPolicy: unknown) => {
    const location = `${context.object}: ${path}`;
    try {
      parseReference(written);
    } catch (error) {
      // kubelet would fail on this container; a look-alike field in a custom resource may just not be an image
      if (strict) {
        throw new AirlockError('BAD_INPUT', `${context.file}: ${location}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      scan.warnings.push(`${context.file}: ${location}: skipped ${(error as Error).message}`);
      return;
    }
    scan.mentions.push({
      written,
      source: { kind: 'rendered', file: context.file, location },
      ...(typeof pullPolicy === 'string' ? { pullPolicy } : {}),
    });
  };

  // Images a controller receives as text: never fatal, since an argument that is not an image is no error.
  const scanText = (container: Values, path: string) => {
    const { images, configMaps } = scanContainerText(container, path, context.object);
    scan.configMapUses.push(...configMaps);
    for (const image of images) {
      scan.mentions.push({
        written: image.written,
        source: { kind: 'rendered', file: context.file, location: `${context.object}: ${image.where}` },
      });
    }
  };

  const walk = (node: unknown, path: string, inContainerList: boolean, inVolumes: boolean): void => {
    if (Array.isArray(node)) {
      for (const [index, item] of node.entries()) walk(item, join(path, index), inContainerList, inVolumes);
      return;
    }
    if (!isPlainObject(node)) return;
    const image = node.image;
    if (inContainerList && context.airlock) {
      if (typeof image === 'string' && image.trim() !== '') scan.own.push(ownMention(image, context, path));
    } else if (inContainerList && 'image' in node) {
      if (typeof image !== 'string' || image.trim() === '') {
        throw new AirlockError(
          'BAD_INPUT',
          `${context.file}: ${context.object}: ${join(path, 'image')}: container has an empty image — set the image in the values`,
        );
      }
      record(image, join(path, 'image'), true, node.imagePullPolicy);
    } else if (typeof image === 'string' && image.trim() !== '' && !image.includes('{{')) {
      record(image, join(path, 'image'), false, node.imagePullPolicy ?? node.pullPolicy);
    } else if (inVolumes && isPlainObject(image) && typeof image.reference === 'string') {
      // Image volumes (Kubernetes 1.31+): kubelet pulls these like container images.
      record(image.reference, join(join(path, 'image'), 'reference'), true, image.pullPolicy);
    }
    if (inContainerList) scanText(node, path);
    for (const [key, child] of Object.entries(node)) {
      if (key === 'image' || key === 'metadata') continue;
      const use = configMapOfNode(key, child, context.object);
      if (use) scan.configMapUses.push(use);
      walk(
        child,
        join(path, key),
        CONTAINER_LISTS.has(key),
        key === 'volumes' || (inVolumes && !inContainerList),
      );
    }
  };

  walk(root, '', false, false);
};

const scanManifest = (manifest: Values, file: string, scan: ScanState): void => {
  const kind = typeof manifest.kind === 'string' ? manifest.kind : 'Object';
  const metadata = isPlainObject(manifest.metadata) ? manifest.metadata : {};
  const name = typeof metadata.name === 'string' ? metadata.name : '?';
  if (kind === 'ConfigMap' && isPlainObject(manifest.data))
    scan.configMaps.push({ name, file, data: manifest.data });
  if (INERT_KINDS.has(kind)) return;
  if (kind.endsWith('List') && Array.isArray(manifest.items)) {
    for (const item of manifest.items) if (isPlainObject(item)) scanManifest(item, file, scan);
    return;
  }
  const labels = isPlainObject(metadata.labels) ? metadata.labels : {};
  const component = labels[IMPORT_HOOK_LABEL.key];
  const airlock = typeof component === 'string' && AIRLOCK_COMPONENTS.has(component);
  scanObject(manifest, { file, object: `${kind}/${name}`, airlock }, scan);
};

/** Images in the data of the ConfigMaps the workloads mount or read, each credited to the ConfigMap's template. */
const scanUsedConfigMaps = (scan: ScanState): void => {
  for (const configMap of scan.configMaps) {
    const uses = scan.configMapUses.filter((use) => use.name === configMap.name);
    if (uses.length === 0) continue;
    const users = [...new Set(uses.map((use) => use.by))].join(', ');
    for (const image of scanConfigMapData(configMap.data, uses)) {
      scan.mentions.push({
        written: image.written,
        source: {
          kind: 'rendered',
          file: configMap.file,
          location: `ConfigMap/${configMap.name}: ${image.where} (used by ${users})`,
        },
      });
    }
  }
};

/**
 * Every image in `helm template` output: the containers, init containers and ephemeral containers of any pod
 * spec at any depth (Pods, workloads, CronJob job templates, hooks, subcharts, pod templates inside custom
 * resources), image volumes, and any other `image:` string such as a Prometheus resource's `spec.image`;
 * plus the images containers are handed as text (args, command, env) and those in the data of the ConfigMaps
 * they mount or read (see embedded.ts).
 */
export const scanRendered = (manifests: string): RenderedScan => {
  const scan: ScanState = { mentions: [], own: [], warnings: [], configMaps: [], configMapUses: [] };
  for (const [index, document] of parseAllDocuments(manifests, { merge: true }).entries()) {
    const contents = document.contents;
    const file =
      sourceOf(document.commentBefore) ??
      sourceOf(contents?.commentBefore) ??
      `rendered document ${index + 1}`;
    const firstError = document.errors[0];
    if (firstError) {
      throw new AirlockError(
        'BAD_INPUT',
        `${file}: helm rendered invalid YAML: ${firstError.message.split('\n')[0]}`,
        {
          cause: firstError,
        },
      );
    }
    const manifest: unknown = document.toJS({ maxAliasCount: 1000 });
    if (isPlainObject(manifest)) scanManifest(manifest, file, scan);
  }
  scanUsedConfigMaps(scan);
  return { mentions: scan.mentions, own: scan.own, warnings: scan.warnings };
};
