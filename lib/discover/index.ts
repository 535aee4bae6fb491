export { IMAGE_ANNOTATIONS } from './annotations.ts';
export { discoverImages, HELM_MISSING_WARNING, HELM_SKIPPED_WARNING } from './discover.ts';
export { explainImage, notRenderedLines } from './explain.ts';
export { globToRegExp, matchesGlob } from './glob.ts';
export type { DiscoveredImage, DiscoverOptions, DiscoveryResult, ImageSource, SourceKind } from './types.ts';
