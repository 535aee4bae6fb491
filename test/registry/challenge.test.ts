import { describe, expect, it } from 'vitest';
import { parseChallenges } from '../../lib/registry/challenge.ts';

describe('parseChallenges', () => {
  it.each([
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.docker.io/token',
            service: 'registry.docker.io',
            scope: 'repository:library/nginx:pull',
          },
        },
      ],
    ],
    ['Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    [
      'Bearer realm="https://ghcr.io/token", scope="repository:a/b:pull,push" , service="ghcr.io"',
      [
        {
          scheme: 'bearer',
          params: { realm: 'https://ghcr.io/token', scope: 'repository:a/b:pull,push', service: 'ghcr.io' },
        },
      ],
    ],
    ['BASIC Realm=plain', [{ scheme: 'basic', params: { realm: 'plain' } }]],
    ['Bearer realm="quote \\"inside\\""', [{ scheme: 'bearer', params: { realm: 'quote "inside"' } }]],
    [
      'Basic realm="one", Bearer realm="https://t/token",service="s"',
      [
        { scheme: 'basic', params: { realm: 'one' } },
        { scheme: 'bearer', params: { realm: 'https://t/token', service: 's' } },
      ],
    ],
    ['', []],
  ])('parses %s', (header, expected) => {
    expect(parseChallenges(header)).toEqual(expected);
  });
});
