import { AirlockError } from '../errors.ts';
import {
  familiarName,
  type ImageReference,
  normalizeReference,
  parseReference,
  repositoryName,
  withDefaultTag,
} from '../reference/index.ts';
import { globToRegExp } from './glob.ts';
import type { DiscoveredImage, ImageMention } from './types.ts';

const addUnique = <T>(list: T[], item: T, same: (a: T, b: T) => boolean = (a, b) => a === b): void => {
  if (!list.some((existing) => same(existing, item))) list.push(item);
};

const sameSource = (a: ImageMention['source'], b: ImageMention['source']): boolean =>
  a.kind === b.kind && a.file === b.file && a.location === b.location;

/** Groups mentions by normalized reference; mentions must hold parsable references (the scanners check). */
export const collectImages = (mentions: readonly ImageMention[]): DiscoveredImage[] => {
  const byReference = new Map<string, DiscoveredImage>();
  for (const mention of mentions) {
    const parsed = withDefaultTag(parseReference(mention.written));
    const reference = normalizeReference(mention.written);
    let image = byReference.get(reference);
    if (!image) {
      image = { reference, parsed, written: [], sources: [], pullPolicies: [] };
      byReference.set(reference, image);
    }
    addUnique(image.written, mention.written);
    addUnique(image.sources, mention.source, sameSource);
    if (mention.pullPolicy) addUnique(image.pullPolicies, mention.pullPolicy);
  }
  return [...byReference.values()].sort((a, b) => a.reference.localeCompare(b.reference));
};

/** The same image even when written differently: equal references, or the same repository pinned to the same digest. */
const sameImage = (a: ImageReference, b: ImageReference): boolean =>
  repositoryName(a) === repositoryName(b) &&
  (a.digest !== undefined && b.digest !== undefined
    ? a.digest === b.digest
    : a.tag === b.tag && a.digest === b.digest);

export interface RenderedPartition {
  /** The rendered images, with the values/annotation sources that name them added. */
  images: DiscoveredImage[];
  /** Values/annotation images helm did not render. */
  notRendered: DiscoveredImage[];
}

/**
 * The same repository path, tag and digest in another registry: a chart that builds the registry from a global.
 * Two digests decide alone, as in sameImage.
 */
const sameImageElsewhere = (a: ImageReference, b: ImageReference): boolean =>
  a.domain !== b.domain && sameImage({ ...a, domain: b.domain }, b);

/**
 * Rendered images are authoritative; other findings either confirm one (an extra source) or were not rendered.
 * With `acrossRegistries`, a finding the chart renders under another registry confirms it too, its sources marked
 * `renderedAs` the rendered reference.
 */
export const partitionByRendered = (
  rendered: readonly DiscoveredImage[],
  others: readonly DiscoveredImage[],
  options: { acrossRegistries?: boolean } = {},
): RenderedPartition => {
  const images = rendered.map((image) => ({ ...image, sources: [...image.sources] }));
  const notRendered: DiscoveredImage[] = [];
  for (const other of others) {
    const match = images.find((image) => sameImage(image.parsed, other.parsed));
    if (match) {
      for (const source of other.sources) addUnique(match.sources, source, sameSource);
      continue;
    }
    const elsewhere = options.acrossRegistries
      ? images.find((image) => sameImageElsewhere(image.parsed, other.parsed))
      : undefined;
    if (!elsewhere) {
      notRendered.push(other);
      continue;
    }
    for (const source of other.sources) {
      addUnique(elsewhere.sources, { ...source, renderedAs: elsewhere.reference }, sameSource);
    }
  }
  return { images, notRendered };
};

/**
 * Without helm, Chart.yaml annotations are the author's list of every image the chart needs, including those
 * rendered only with non-default values (an install hook, an optional job): they are exported, with three
 * refinements. (With helm, the rendered chart decides: see selectRendered in discover.ts.) An image of a switched-off subchart stays in `notRendered`. One whose repository is rendered under
 * another name (values replaced its registry, tag or digest) stays in `notRendered` too. One whose repository the
 * values configure under another name, unrendered (the hook switched off, `global.imageRegistry` set), is exported
 * under the values' name: that is the name kubelet will ask for once the component is on.
 */
export const addDeclaredImages = (
  images: readonly DiscoveredImage[],
  declared: readonly DiscoveredImage[],
  context: { switchedOff: readonly DiscoveredImage[]; configured: readonly DiscoveredImage[] },
): RenderedPartition => {
  const confirmed = partitionByRendered(images, declared);
  const kept: DiscoveredImage[] = [];
  const notRendered: DiscoveredImage[] = [];
  for (const image of confirmed.notRendered) {
    const off = context.switchedOff.some((other) => sameImage(other.parsed, image.parsed));
    const replaced = images.some((other) => other.parsed.path === image.parsed.path);
    if (off || replaced) {
      notRendered.push(image);
      continue;
    }
    const configured = context.configured.find(
      (other) => other.parsed.path === image.parsed.path && !sameImage(other.parsed, image.parsed),
    );
    if (!configured) {
      kept.push(image);
      continue;
    }
    kept.push({ ...configured, sources: [...configured.sources, ...image.sources] });
    notRendered.push(image);
  }
  return { images: mergeImages(confirmed.images, kept), notRendered };
};

/** Folds images into a list by reference, merging written names, sources and pull policies. */
export const mergeImages = (
  base: readonly DiscoveredImage[],
  extra: readonly DiscoveredImage[],
): DiscoveredImage[] => {
  const merged = base.map((image) => ({
    ...image,
    written: [...image.written],
    sources: [...image.sources],
    pullPolicies: [...image.pullPolicies],
  }));
  for (const image of extra) {
    const match = merged.find((candidate) => candidate.reference === image.reference);
    if (!match) {
      merged.push(image);
      continue;
    }
    for (const written of image.written) addUnique(match.written, written);
    for (const source of image.sources) addUnique(match.sources, source, sameSource);
    for (const policy of image.pullPolicies) addUnique(match.pullPolicies, policy);
  }
  return merged.sort((a, b) => a.reference.localeCompare(b.reference));
};

/** Config `additional_images` as mentions; a reference that does not parse is the user's to fix. */
export const configuredMentions = (references: readonly string[], file = 'config'): ImageMention[] =>
  references.map((written, index) => {
    const location = `additional_images[${index}]`;
    try {
      parseReference(written);
    } catch (error) {
      throw new AirlockError('BAD_INPUT', `${file}: ${location}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return { written, source: { kind: 'config', file, location } };
  });

/** True when a pattern matches the normalized reference, the familiar name, the repository or a written form. */
export const isExcluded = (image: DiscoveredImage, patterns: readonly RegExp[]): boolean => {
  const candidates = [
    image.reference,
    familiarName(image.parsed),
    repositoryName(image.parsed),
    ...image.written,
  ];
  return patterns.some((pattern) => candidates.some((candidate) => pattern.test(candidate)));
};

export const excludeImages = (
  images: readonly DiscoveredImage[],
  patterns: readonly string[],
): { kept: DiscoveredImage[]; excluded: DiscoveredImage[] } => {
  const compiled = patterns.map(globToRegExp);
  const kept: DiscoveredImage[] = [];
  const excluded: DiscoveredImage[] = [];
  for (const image of images) (isExcluded(image, compiled) ? excluded : kept).push(image);
  return { kept, excluded };
};

const describeSource = (image: DiscoveredImage): string => {
  const source = image.sources[0];
  return source ? ` (${source.file}: ${source.location})` : '';
};

/** What will break or drift in an air gap: unpinned tags and pull policies that make kubelet go to the registry. */
export const imageWarnings = (images: readonly DiscoveredImage[]): string[] => {
  const warnings: string[] = [];
  for (const image of images) {
    const where = describeSource(image);
    const unpinned = image.written.filter((written) => {
      const parsed = parseReference(written);
      return parsed.digest === undefined && (parsed.tag === undefined || parsed.tag === 'latest');
    });
    const pullsAlways = image.pullPolicies.includes('Always');
    const setsPolicy = image.pullPolicies.some((policy) => policy === 'IfNotPresent' || policy === 'Never');
    if (unpinned.length > 0 && !setsPolicy && !pullsAlways) {
      warnings.push(
        `${unpinned[0]}${where}: no tag or :latest makes kubelet pull on every pod start; in an air gap kubelet will try to pull ${image.reference} and fail — pin a tag and use IfNotPresent`,
      );
    } else if (unpinned.length > 0) {
      warnings.push(`${unpinned[0]}${where}: :latest names a different image over time — pin a tag`);
    }
    if (pullsAlways) {
      warnings.push(
        `${image.reference}${where}: imagePullPolicy Always: in an air gap kubelet will try to pull ${image.reference} on every pod start and fail — pin a tag and use IfNotPresent`,
      );
    }
  }
  return warnings;
};
