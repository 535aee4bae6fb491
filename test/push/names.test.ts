import { describe, expect, it } from 'vitest';
import { imageRegistryValue, parseMapping, parseRegistryTarget, targetName } from '../../lib/push/names.ts';

/** Where each source name lands in the target registry, and the value the chart gets. */

const target = parseRegistryTarget('registry.corp.local:5000/mirror');

describe('targetName', () => {
  it.each([
    ['docker.io/bitnami/redis:7.2', [], 'registry.corp.local:5000/mirror/bitnami/redis:7.2'],
    ['docker.io/library/nginx:1.25', [], 'registry.corp.local:5000/mirror/nginx:1.25'],
    [
      `ghcr.io/acme/api@sha256:${'a'.repeat(64)}`,
      [],
      `registry.corp.local:5000/mirror/acme/api@sha256:${'a'.repeat(64)}`,
    ],
    ['ghcr.io/acme/api:1', ['ghcr.io/acme=acme-mirror'], 'registry.corp.local:5000/mirror/acme-mirror/api:1'],
    [
      'docker.io/library/nginx:1.25',
      ['docker.io/library=library'],
      'registry.corp.local:5000/mirror/library/nginx:1.25',
    ],
    ['ghcr.io/acme/api:1', ['ghcr.io=gh', 'ghcr.io/acme=a'], 'registry.corp.local:5000/mirror/a/api:1'],
    ['ghcr.io/acmecorp/api:1', ['ghcr.io/acme=a'], 'registry.corp.local:5000/mirror/acmecorp/api:1'],
  ])('%s with %j -> %s', (source, maps, expected) => {
    expect(targetName(source, target, maps.map(parseMapping)).reference).toBe(expected);
  });
});

describe('parseRegistryTarget', () => {
  it('splits host and prefix and gives the global.imageRegistry value', () => {
    expect(parseRegistryTarget('https://harbor.example.com/library/')).toEqual({
      host: 'harbor.example.com',
      prefix: 'library',
    });
    expect(imageRegistryValue(parseRegistryTarget('127.0.0.1:5000'))).toBe('127.0.0.1:5000');
    expect(imageRegistryValue(target)).toBe('registry.corp.local:5000/mirror');
  });

  it('refuses a value without a registry host in one line', () => {
    expect(() => parseRegistryTarget('mirror/images')).toThrow(
      /--registry "mirror\/images": expected HOST\[:PORT\]\[\/PREFIX\]/,
    );
  });
});
