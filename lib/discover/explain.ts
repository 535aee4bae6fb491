import { AirlockError } from '../errors.ts';
import { type ImageReference, parseReference, repositoryName, withDefaultTag } from '../reference/index.ts';
import type { DiscoveredImage, DiscoveryResult, ImageSource } from './types.ts';

/** An image Chart.yaml lists: not rendered, it is "declared, not rendered" rather than a stray values default. */
const isDeclared = (image: DiscoveredImage): boolean =>
  image.sources.some((source) => source.kind === 'annotation');

/**
 * The lines that tell a person which found images are left out, and how to add them: those Chart.yaml declares
 * apart from those only values name.
 */
export const notRenderedLines = (notRendered: readonly DiscoveredImage[]): string[] => {
  const declared = notRendered.filter(isDeclared).map((image) => image.reference);
  const others = notRendered.filter((image) => !isDeclared(image)).map((image) => image.reference);
  const lines: string[] = [];
  if (declared.length > 0) {
    lines.push(
      `declared in Chart.yaml, not rendered by the chart with these values, not exported (--include-unrendered adds them): ${declared.join(', ')}`,
    );
  }
  if (others.length > 0) {
    lines.push(
      `not rendered by the chart with these values, not exported (--include-unrendered adds them): ${others.join(', ')}`,
    );
  }
  return lines;
};

const describeSource = (source: ImageSource): string =>
  `  ${source.kind} ${source.file}: ${source.location}${source.renderedAs ? ` (rendered as ${source.renderedAs})` : ''}`;

/** `nginx` asks about every tag of the repository; `nginx:1.25` or a digest about that image only. */
const matches = (image: DiscoveredImage, query: ImageReference): boolean => {
  if (repositoryName(image.parsed) !== repositoryName(query)) return false;
  if (query.tag === undefined && query.digest === undefined) return true;
  const wanted = withDefaultTag(query);
  if (wanted.digest !== undefined && image.parsed.digest === wanted.digest) return true;
  return image.parsed.tag === wanted.tag && image.parsed.digest === wanted.digest;
};

const OWN_STATUS =
  "airlock's own: the import hook runs in it (on the nodes already, or written by --importer image), not exported";

const statusOf = (image: DiscoveredImage, discovery: DiscoveryResult): string => {
  const unrendered = discovery.notRendered.some((other) => other.reference === image.reference);
  const exported = discovery.images.some((other) => other.reference === image.reference);
  if (!unrendered) return 'exported';
  const what = isDeclared(image) ? 'declared in Chart.yaml, not rendered' : 'not rendered';
  return exported ? `${what}, exported (--include-unrendered)` : `${what}, not exported`;
};

/**
 * Every place the images matching `query` were found, as Zarf's `find-images --why` prints them: per image a
 * line with its status, then one line per source (kind, template or values file, object and field or argument,
 * or values key). Undefined when nothing matches.
 */
export const explainImage = (discovery: DiscoveryResult, query: string): string[] | undefined => {
  let wanted: ImageReference;
  try {
    wanted = parseReference(query);
  } catch (error) {
    throw new AirlockError('BAD_INPUT', `--why: ${(error as Error).message}`, { cause: error });
  }
  const seen = new Set<string>();
  const lines: string[] = [];
  const own = discovery.own ?? [];
  for (const image of [...discovery.images, ...discovery.notRendered, ...own]) {
    if (seen.has(image.reference) || !matches(image, wanted)) continue;
    seen.add(image.reference);
    const status = own.includes(image) ? OWN_STATUS : statusOf(image, discovery);
    lines.push(`${image.reference}: ${status}`);
    for (const source of image.sources) lines.push(describeSource(source));
  }
  return lines.length > 0 ? lines : undefined;
};
