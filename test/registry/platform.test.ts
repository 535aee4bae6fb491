import { describe, expect, it } from 'vitest';
import { type ImageIndex, MediaType, parsePlatform, platformMatches } from '../../lib/oci/index.ts';
import { selectPlatforms } from '../../lib/registry/index.ts';

const entry = (
  hex: string,
  platform: { os: string; architecture: string; variant?: string },
  annotations?: Record<string, string>,
) => ({
  mediaType: MediaType.ociManifest,
  digest: `sha256:${hex.repeat(64)}`,
  size: 500,
  platform,
  ...(annotations ? { annotations } : {}),
});

const index: ImageIndex = {
  schemaVersion: 2,
  mediaType: MediaType.ociIndex,
  manifests: [
    entry('a', { os: 'linux', architecture: 'amd64' }),
    entry('b', { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    entry('c', { os: 'linux', architecture: 'arm', variant: 'v7' }),
    entry(
      'd',
      { os: 'unknown', architecture: 'unknown' },
      { 'vnd.docker.reference.type': 'attestation-manifest' },
    ),
  ],
};

describe('parsePlatform', () => {
  it.each([
    ['linux/amd64', { os: 'linux', architecture: 'amd64' }],
    ['linux/arm64/v8', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    [' windows/amd64 ', { os: 'windows', architecture: 'amd64' }],
  ])('parses %s', (text, expected) => {
    expect(parsePlatform(text)).toEqual(expected);
  });

  it.each(['linux', 'linux/', '/amd64', 'linux/arm/v7/extra', ''])('rejects %j with BAD_INPUT', (text) => {
    expect(() => parsePlatform(text)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
  });
});

describe('platformMatches', () => {
  it.each([
    ['linux/arm64', 'linux/arm64/v8', true],
    ['linux/aarch64', 'linux/arm64/v8', true],
    ['linux/x86_64', 'linux/amd64', true],
    ['linux/arm', 'linux/arm/v7', true],
    ['linux/arm/v6', 'linux/arm/v7', false],
    ['linux/amd64', 'windows/amd64', false],
  ])('%s against %s: %s', (wanted, candidate, expected) => {
    expect(platformMatches(parsePlatform(wanted), parsePlatform(candidate))).toBe(expected);
  });
});

describe('selectPlatforms', () => {
  it('returns the wanted entries in the order asked, each once', () => {
    const selected = selectPlatforms('repo:1', index, [
      parsePlatform('linux/arm64'),
      parsePlatform('linux/amd64'),
      parsePlatform('linux/arm64/v8'),
    ]);

    expect(selected.map((descriptor) => descriptor.digest[7])).toEqual(['b', 'a']);
  });

  it('ignores attestation manifests and names what the index has', () => {
    const select = () => selectPlatforms('repo:1', index, [parsePlatform('unknown/unknown')]);

    expect(select).toThrow(expect.objectContaining({ code: 'PLATFORM_MISSING' }));
    expect(select).toThrow(
      'repo:1: no image for unknown/unknown — the index has linux/amd64, linux/arm64/v8, linux/arm/v7',
    );
  });
});
