import { describe, expect, it } from 'vitest';
import { endpointsFor, isLoopback } from '../../lib/registry/hosts.ts';

describe('endpointsFor', () => {
  it('sends docker.io to registry-1.docker.io over HTTPS', () => {
    expect(endpointsFor('docker.io')).toEqual([
      {
        origin: 'https://registry-1.docker.io',
        host: 'registry-1.docker.io',
        registry: 'docker.io',
        mirror: false,
      },
    ]);
  });

  it('uses plain HTTP for loopback and for insecure registries only', () => {
    const options = { insecureRegistries: ['registry.lan:5000'] };
    expect(endpointsFor('127.0.0.1:5000', options)[0]!.origin).toBe('http://127.0.0.1:5000');
    expect(endpointsFor('localhost:5000', options)[0]!.origin).toBe('http://localhost:5000');
    expect(endpointsFor('[::1]:5000', options)[0]!.origin).toBe('http://[::1]:5000');
    expect(endpointsFor('registry.lan:5000', options)[0]!.origin).toBe('http://registry.lan:5000');
    expect(endpointsFor('ghcr.io', options)[0]!.origin).toBe('https://ghcr.io');
  });

  it('puts mirrors first, in order, keeping a scheme written with them', () => {
    const endpoints = endpointsFor('docker.io', {
      mirrors: { 'docker.io': ['mirror.gcr.io', 'http://10.0.0.5:5000'] },
    });
    expect(endpoints.map((endpoint) => [endpoint.origin, endpoint.mirror])).toEqual([
      ['https://mirror.gcr.io', true],
      ['http://10.0.0.5:5000', true],
      ['https://registry-1.docker.io', false],
    ]);
  });
});

describe('isLoopback', () => {
  it.each([
    ['127.0.0.1:5000', true],
    ['127.1.2.3', true],
    ['localhost', true],
    ['[::1]:5000', true],
    ['10.0.0.1:5000', false],
    ['registry.test:5000', false],
    ['127.example.com', false],
  ])('%s: %s', (host, expected) => {
    expect(isLoopback(host)).toBe(expected);
  });
});
