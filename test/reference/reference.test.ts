import { describe, expect, it } from 'vitest';
import {
  archiveBaseName,
  familiarName,
  normalizeReference,
  parseReference,
  pullsByDefault,
  runtimeNames,
} from '../../lib/reference/index.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('normalizeReference', () => {
  it.each([
    ['nginx', 'docker.io/library/nginx:latest'],
    ['nginx:1.25', 'docker.io/library/nginx:1.25'],
    ['library/nginx:1.25', 'docker.io/library/nginx:1.25'],
    ['bitnami/redis:7.2', 'docker.io/bitnami/redis:7.2'],
    ['docker.io/nginx', 'docker.io/library/nginx:latest'],
    ['index.docker.io/library/nginx:1', 'docker.io/library/nginx:1'],
    ['registry-1.docker.io/bitnami/redis:7', 'docker.io/bitnami/redis:7'],
    ['ghcr.io/org/app:v1', 'ghcr.io/org/app:v1'],
    ['host:5000/a/b:t', 'host:5000/a/b:t'],
    ['host:5000/a/b', 'host:5000/a/b:latest'],
    ['localhost/app', 'localhost/app:latest'],
    ['127.0.0.1:5000/team/sub/app:6.0-rc.1', '127.0.0.1:5000/team/sub/app:6.0-rc.1'],
    [`nginx@${DIGEST}`, `docker.io/library/nginx@${DIGEST}`],
    [`nginx:1.25@${DIGEST}`, `docker.io/library/nginx:1.25@${DIGEST}`],
    [`quay.io/a/b:1@${DIGEST}`, `quay.io/a/b:1@${DIGEST}`],
    ['registry.k8s.io/ingress-nginx/controller:v1.10.0', 'registry.k8s.io/ingress-nginx/controller:v1.10.0'],
    ['my-registry.local/a__b/c-d.e:tag_1', 'my-registry.local/a__b/c-d.e:tag_1'],
  ])('%s -> %s', (input, expected) => {
    expect(normalizeReference(input)).toBe(expected);
  });

  it.each([
    ['', /empty/],
    ['Nginx:1', /lowercase/],
    ['nginx:', /bad tag/],
    ['nginx:bad tag', /white space/],
    ['nginx@sha256:abc', /digest/],
    [`nginx@sha256:${'A'.repeat(64)}`, /digest|64 lowercase/],
    ['host:port/a:b', /registry host/],
    ['a//b', /repository path/],
    ['-a/b', /repository path/],
    ['my_registry.local/a:1', /registry host/],
  ])('rejects %j with a reason', (input, reason) => {
    expect(() => normalizeReference(input)).toThrow(reason);
    try {
      normalizeReference(input);
    } catch (error) {
      expect((error as { code: string }).code).toBe('REFERENCE_INVALID');
    }
  });
});

describe('parseReference', () => {
  it('tells a registry port from a tag', () => {
    expect(parseReference('host:5000/a/b:t')).toEqual({ domain: 'host:5000', path: 'a/b', tag: 't' });
    expect(parseReference('host:5000/a/b')).toEqual({ domain: 'host:5000', path: 'a/b' });
  });

  it('keeps both tag and digest', () => {
    expect(parseReference(`nginx:1.25@${DIGEST}`)).toEqual({
      domain: 'docker.io',
      path: 'library/nginx',
      tag: '1.25',
      digest: DIGEST,
    });
  });

  it('treats a first component without dot or port as a Docker Hub namespace', () => {
    expect(parseReference('myorg/app:1')).toEqual({ domain: 'docker.io', path: 'myorg/app', tag: '1' });
  });
});

describe('runtimeNames', () => {
  it('gives the tag name and the digest name a pinned pod asks for', () => {
    expect(runtimeNames(parseReference(`nginx:1.25@${DIGEST}`))).toEqual([
      'docker.io/library/nginx:1.25',
      `docker.io/library/nginx@${DIGEST}`,
    ]);
  });

  it('defaults to latest when nothing is given', () => {
    expect(runtimeNames(parseReference('nginx'))).toEqual(['docker.io/library/nginx:latest']);
  });
});

describe('familiarName and file names', () => {
  it.each([
    ['docker.io/library/nginx:1.25', 'nginx:1.25', 'nginx_1.25'],
    ['docker.io/bitnami/redis:7', 'bitnami/redis:7', 'bitnami_redis_7'],
    ['127.0.0.1:5000/a/b:6.0-rc.1', '127.0.0.1:5000/a/b:6.0-rc.1', '127.0.0.1_5000_a_b_6.0-rc.1'],
  ])('%s', (input, familiar, file) => {
    const reference = parseReference(input);
    expect(familiarName(reference)).toBe(familiar);
    expect(archiveBaseName(reference)).toBe(file);
  });

  it('names a digest-only archive after the digest', () => {
    expect(archiveBaseName(parseReference(`nginx@${DIGEST}`))).toBe('nginx_sha256-aaaaaaaaaaaa');
  });
});

describe('pullsByDefault', () => {
  it.each([
    ['nginx', true],
    ['nginx:latest', true],
    ['nginx:1.25', false],
    [`nginx@${DIGEST}`, false],
  ])('%s -> %s', (input, expected) => {
    expect(pullsByDefault(parseReference(input))).toBe(expected);
  });
});
