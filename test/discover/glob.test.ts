import { describe, expect, it } from 'vitest';
import { matchesGlob } from '../../lib/discover/glob.ts';

describe('matchesGlob', () => {
  const cases: [string, string, boolean][] = [
    ['docker.io/library/busybox:*', 'docker.io/library/busybox:1.36', true],
    ['docker.io/library/busybox:*', 'docker.io/library/busybox-extra:1.36', false],
    ['*/debug-*', 'docker.io/acme/debug-tools:1', true],
    ['*/debug-*', 'docker.io/acme/tools:debug-1', false],
    ['ghcr.io/acme/*', 'ghcr.io/acme/team/web:1', true],
    ['ghcr.io/acme/**', 'ghcr.io/acme/web:1', true],
    ['quay.io/acme/web:v?', 'quay.io/acme/web:v1', true],
    ['quay.io/acme/web:v?', 'quay.io/acme/web:v10', false],
    ['quay.io/acme/web:v[12]', 'quay.io/acme/web:v2', true],
    ['quay.io/acme/web:v[!12]', 'quay.io/acme/web:v2', false],
    ['quay.io/acme/web:v[!12]', 'quay.io/acme/web:v3', true],
    ['registry.local:5000/a+b', 'registry.local:5000/a+b', true],
    ['registry.local:5000/a+b', 'registry.local:5000/aab', false],
    ['docker.io/library/nginx', 'docker.io/library/nginx:1.27', false],
    ['docker.io/library/nginx@sha256:*', `docker.io/library/nginx@sha256:${'a'.repeat(64)}`, true],
    ['a.b', 'axb', false],
    ['[oops', '[oops', true],
  ];
  it.each(cases)('%s against %s is %s', (pattern, text, expected) => {
    expect(matchesGlob(text, pattern)).toBe(expected);
  });
});
