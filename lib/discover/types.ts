import type { ImageReference } from '../reference/index.ts';
import type { Logger } from '../report/log.ts';

/** Where an image was seen: the rendered manifests, the values, Chart.yaml annotations, or the airlock config. */
export type SourceKind = 'rendered' | 'values' | 'annotation' | 'config';

export interface ImageSource {
  kind: SourceKind;
  /** The template (`mychart/templates/web.yaml`), values file, Chart.yaml or config file it came from. */
  file: string;
  /** `Deployment/web: spec.template.spec.initContainers[0].image`, a values path `redis.image`, or an annotation key. */
  location: string;
  /**
   * Set on a values or Chart.yaml finding that the rendered chart uses under another registry (same repository
   * path, tag and digest; the registry came from a global value): the reference helm rendered.
   */
  renderedAs?: string;
}

export interface DiscoveredImage {
  /** Normalized and fully qualified (`normalizeReference`): the key images are de-duplicated by. */
  reference: string;
  /** The parsed reference, tag defaulted to `latest` like `normalizeReference`. */
  parsed: ImageReference;
  /** The strings exactly as written in manifests or values: the names kubelet asks the runtime for. */
  written: string[];
  sources: ImageSource[];
  /** `imagePullPolicy` values seen next to it in rendered manifests (or `pullPolicy` in values when not rendered). */
  pullPolicies: string[];
}

export interface DiscoveryResult {
  /** The images to export. */
  images: DiscoveredImage[];
  /**
   * Found in values or annotations but not in the rendered manifests (a disabled component, an unused default).
   * Exported only with `includeUnrendered`, in which case they are in `images` too.
   */
  notRendered: DiscoveredImage[];
  /**
   * The images airlock's own objects run in (the import hook, the keeper, the cleanup): on the nodes already, or
   * written by `--importer image`; never exported.
   */
  own?: DiscoveredImage[];
  /** One line each, for a person: unpinned tags, pull policies that break in an air gap, fallbacks taken. */
  warnings: string[];
  /** True when `helm template` rendered the chart; false when the list comes from values and annotations only. */
  rendered: boolean;
  helmVersion?: string;
  /** Chart.yaml's name and version, as the schema'd loader read them (recorded in images.json). */
  chart: { name: string; version?: string };
  /** The rendered manifests (multi-document YAML), when helm rendered the chart. */
  manifests?: string;
}

/** What `helm template` printed, and which helm printed it. */
export interface Rendering {
  manifests: string;
  version: string;
}

export interface DiscoverOptions {
  /** A chart directory or a packaged chart (`.tgz`). */
  chart: string;
  valuesFiles?: string[];
  /** `--set` expressions, as given to helm. */
  set?: string[];
  /** The helm binary, or false to skip rendering. Default: `helm` on PATH. */
  helm?: string | false;
  /**
   * The rendering of these same options, when the caller started it early (startRendering): helm then works
   * while node loads discovery.
   */
  rendering?: Promise<Rendering>;
  /** References to export whatever the chart says (config `additional_images`). */
  additionalImages?: string[];
  /** Glob patterns of references to drop (`docker.io/library/busybox:*`, `*\/debug-*`). */
  exclude?: string[];
  includeUnrendered?: boolean;
  releaseName?: string;
  namespace?: string;
  kubeVersion?: string;
  logger?: Logger;
}

/** One sighting of an image string, before de-duplication. */
export interface ImageMention {
  written: string;
  source: ImageSource;
  pullPolicy?: string;
}
