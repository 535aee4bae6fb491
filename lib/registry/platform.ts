import {
  type Descriptor,
  formatPlatform,
  type ImageIndex,
  type Platform,
  platformMatches,
} from '../oci/index.ts';
import { PlatformMissingError } from './errors.ts';

/** BuildKit's provenance and SBOM manifests sit in the index as `unknown/unknown`: they are not images. */
const isAttestation = (descriptor: Descriptor): boolean =>
  descriptor.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
  (descriptor.platform?.os === 'unknown' && descriptor.platform.architecture === 'unknown');

/**
 * The index entries for the wanted platforms, in the order asked, each at most once (the first matching entry,
 * as the runtimes pick). Throws PlatformMissingError naming what the index offers when any platform is absent.
 */
export const selectPlatforms = (ref: string, index: ImageIndex, wanted: Platform[]): Descriptor[] => {
  const images = index.manifests.filter((descriptor) => descriptor.platform && !isAttestation(descriptor));
  const selected: Descriptor[] = [];
  const missing: Platform[] = [];
  for (const platform of wanted) {
    const match = images.find((descriptor) => platformMatches(platform, descriptor.platform!));
    if (!match) missing.push(platform);
    else if (!selected.includes(match)) selected.push(match);
  }
  if (missing.length === 0) return selected;
  const available = images.map((descriptor) => descriptor.platform!);
  const offered = available.length > 0 ? available.map(formatPlatform).join(', ') : 'no platforms';
  throw new PlatformMissingError(
    `no image for ${missing.map(formatPlatform).join(', ')} — the index has ${offered}; ` +
      `choose from those platforms or ask the publisher for a ${missing.map(formatPlatform).join(', ')} build`,
    missing,
    available,
    { subject: ref },
  );
};
