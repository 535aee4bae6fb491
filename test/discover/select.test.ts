import { describe, expect, it } from 'vitest';
import {
  collectImages,
  configuredMentions,
  excludeImages,
  imageWarnings,
  mergeImages,
  partitionByRendered,
} from '../../lib/discover/select.ts';
import type { ImageMention, SourceKind } from '../../lib/discover/types.ts';

const DIGEST = `sha256:${'c'.repeat(64)}`;

const mention = (
  written: string,
  kind: SourceKind = 'rendered',
  location = 'x',
  pullPolicy?: string,
): ImageMention => ({
  written,
  source: { kind, file: 'f', location },
  ...(pullPolicy ? { pullPolicy } : {}),
});

describe('collectImages', () => {
  it('merges spellings of one image under its normalized reference, keeping each as written', () => {
    const [image, ...rest] = collectImages([
      mention('nginx', 'rendered', 'a'),
      mention('docker.io/library/nginx:latest', 'rendered', 'b'),
      mention('nginx', 'rendered', 'a'),
    ]);
    expect(rest).toEqual([]);
    expect(image).toEqual({
      reference: 'docker.io/library/nginx:latest',
      parsed: { domain: 'docker.io', path: 'library/nginx', tag: 'latest' },
      written: ['nginx', 'docker.io/library/nginx:latest'],
      sources: [
        { kind: 'rendered', file: 'f', location: 'a' },
        { kind: 'rendered', file: 'f', location: 'b' },
      ],
      pullPolicies: [],
    });
  });

  it('keeps tag and digest of a pinned reference and sorts by reference', () => {
    const images = collectImages([
      mention(`ghcr.io/a/b:1@${DIGEST}`),
      mention('alpine:3.20', 'rendered', 'y', 'IfNotPresent'),
    ]);
    expect(images.map((image) => image.reference)).toEqual([
      'docker.io/library/alpine:3.20',
      `ghcr.io/a/b:1@${DIGEST}`,
    ]);
    expect(images[0]?.pullPolicies).toEqual(['IfNotPresent']);
  });
});

describe('partitionByRendered', () => {
  it('adds matching findings as sources and sets the rest apart', () => {
    const rendered = collectImages([mention('acme/web:1')]);
    const others = collectImages([
      mention('docker.io/acme/web:1', 'values'),
      mention('acme/exporter:1', 'values'),
    ]);
    const { images, notRendered } = partitionByRendered(rendered, others);
    expect(images[0]?.sources.map((source) => source.kind)).toEqual(['rendered', 'values']);
    expect(images[0]?.written).toEqual(['acme/web:1']);
    expect(notRendered.map((image) => image.reference)).toEqual(['docker.io/acme/exporter:1']);
  });

  it('matches a values digest with a rendered tag+digest of the same repository', () => {
    const rendered = collectImages([mention(`acme/web:1@${DIGEST}`)]);
    const others = collectImages([mention(`acme/web@${DIGEST}`, 'values')]);
    expect(partitionByRendered(rendered, others).notRendered).toEqual([]);
  });

  it('does not match another tag of the same repository', () => {
    const rendered = collectImages([mention('acme/web:1')]);
    const others = collectImages([mention('acme/web:2', 'annotation')]);
    expect(partitionByRendered(rendered, others).notRendered.map((image) => image.reference)).toEqual([
      'docker.io/acme/web:2',
    ]);
  });

  const elsewhere: [label: string, rendered: string, other: string, matched: boolean][] = [
    [
      'the same path and tag',
      'registry.k8s.io/ingress-nginx/controller:v1.10',
      'ingress-nginx/controller:v1.10',
      true,
    ],
    [
      'the same path, tag and digest',
      `registry.k8s.io/ingress-nginx/controller:v1.10@${DIGEST}`,
      `ingress-nginx/controller:v1.10@${DIGEST}`,
      true,
    ],
    [
      'the same path and digest, tag dropped',
      `registry.k8s.io/acme/web@${DIGEST}`,
      `acme/web:1@${DIGEST}`,
      true,
    ],
    ['another tag', 'registry.k8s.io/acme/web:2', 'acme/web:1', false],
    ['another path', 'registry.k8s.io/acme/web:1', 'other/web:1', false],
    ['another digest', `registry.k8s.io/acme/web@${DIGEST}`, `acme/web@sha256:${'d'.repeat(64)}`, false],
  ];
  it.each(elsewhere)('across registries, matches %s: %s', (_label, rendered, other, matched) => {
    const result = partitionByRendered(
      collectImages([mention(rendered)]),
      collectImages([mention(other, 'values', 'image')]),
      { acrossRegistries: true },
    );
    const reference = result.images[0]?.reference;
    expect(result.images[0]?.sources.slice(1)).toEqual(
      matched ? [{ kind: 'values', file: 'f', location: 'image', renderedAs: reference }] : [],
    );
    expect(result.notRendered).toHaveLength(matched ? 0 : 1);
  });

  it('matches across registries only when asked: the values scan without helm keeps registries apart', () => {
    const rendered = collectImages([mention('registry.k8s.io/acme/web:1')]);
    const others = collectImages([mention('acme/web:1', 'annotation')]);
    expect(partitionByRendered(rendered, others).notRendered).toHaveLength(1);
  });
});

describe('mergeImages', () => {
  it('folds equal references together and adds new ones', () => {
    const merged = mergeImages(
      collectImages([mention('acme/web:1')]),
      collectImages([mention('docker.io/acme/web:1', 'config'), mention('acme/extra:1', 'config')]),
    );
    expect(merged.map((image) => [image.reference, image.written, image.sources.length])).toEqual([
      ['docker.io/acme/extra:1', ['acme/extra:1'], 1],
      ['docker.io/acme/web:1', ['acme/web:1', 'docker.io/acme/web:1'], 2],
    ]);
  });
});

describe('configuredMentions', () => {
  it('names each additional image by its index', () => {
    expect(configuredMentions(['redis:7'], 'config.toml')).toEqual([
      {
        written: 'redis:7',
        source: { kind: 'config', file: 'config.toml', location: 'additional_images[0]' },
      },
    ]);
  });

  it('refuses a reference that does not parse, naming file and index', () => {
    expect(() => configuredMentions(['ok:1', 'Bad:1'], 'config.toml')).toThrow(
      expect.objectContaining({
        code: 'BAD_INPUT',
        message: expect.stringMatching(
          /^config\.toml: additional_images\[1\]: "Bad:1": not a valid image reference/,
        ),
      }),
    );
  });
});

describe('excludeImages', () => {
  const images = collectImages([
    mention('busybox:1.36'),
    mention('ghcr.io/acme/debug-tools:1'),
    mention('ghcr.io/acme/web:1'),
    mention('registry.k8s.io/pause:3.9'),
  ]);
  const cases: [string, string[], string[]][] = [
    ['a full reference pattern', ['docker.io/library/busybox:*'], ['docker.io/library/busybox:1.36']],
    ['a pattern across path segments', ['*/debug-*'], ['ghcr.io/acme/debug-tools:1']],
    ['the familiar short name', ['busybox:*'], ['docker.io/library/busybox:1.36']],
    ['the repository without a tag', ['registry.k8s.io/pause'], ['registry.k8s.io/pause:3.9']],
    [
      'several patterns',
      ['ghcr.io/*', 'busybox*'],
      ['docker.io/library/busybox:1.36', 'ghcr.io/acme/debug-tools:1', 'ghcr.io/acme/web:1'],
    ],
    ['no patterns', [], []],
  ];
  it.each(cases)('drops images matching %s', (_name, patterns, expected) => {
    const { kept, excluded } = excludeImages(images, patterns);
    expect(excluded.map((image) => image.reference)).toEqual(expected);
    expect(kept.length + excluded.length).toBe(images.length);
  });
});

describe('imageWarnings', () => {
  const warn = (...mentions: ImageMention[]) => imageWarnings(collectImages(mentions));

  it('warns that an untagged image will be pulled in the air gap', () => {
    expect(warn(mention('busybox', 'rendered', 'Pod/p: spec.containers[0].image'))).toEqual([
      'busybox (f: Pod/p: spec.containers[0].image): no tag or :latest makes kubelet pull on every pod start; in an air gap kubelet will try to pull docker.io/library/busybox:latest and fail — pin a tag and use IfNotPresent',
    ]);
  });

  it('warns about imagePullPolicy Always', () => {
    expect(warn(mention('acme/web:1', 'rendered', 'Pod/p', 'Always'))).toEqual([
      'docker.io/acme/web:1 (f: Pod/p): imagePullPolicy Always: in an air gap kubelet will try to pull docker.io/acme/web:1 on every pod start and fail — pin a tag and use IfNotPresent',
    ]);
  });

  it('only asks to pin :latest when IfNotPresent keeps kubelet from pulling', () => {
    expect(warn(mention('acme/web:latest', 'rendered', 'Pod/p', 'IfNotPresent'))).toEqual([
      'acme/web:latest (f: Pod/p): :latest names a different image over time — pin a tag',
    ]);
  });

  it('is quiet for pinned tags and digests', () => {
    expect(
      warn(
        mention('acme/web:1'),
        mention(`acme/web@${DIGEST}`),
        mention('acme/job:2', 'rendered', 'x', 'IfNotPresent'),
      ),
    ).toEqual([]);
  });
});
