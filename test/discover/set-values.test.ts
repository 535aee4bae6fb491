import { describe, expect, it } from 'vitest';
import { parseSetValues } from '../../lib/discover/set-values.ts';

describe('parseSetValues', () => {
  const cases: [string, string[], unknown][] = [
    ['a dotted key', ['image.tag=1.2.3'], { image: { tag: '1.2.3' } }],
    ['a tag that looks like a decimal stays a string', ['image.tag=1.10'], { image: { tag: '1.10' } }],
    [
      'booleans, integers and null are typed as helm does',
      ['a=true,b=false,c=3,d=null'],
      { a: true, b: false, c: 3, d: null },
    ],
    ['a list index', ['sidecars[0].image=busybox:1.36'], { sidecars: [{ image: 'busybox:1.36' }] }],
    ['a scalar list item', ['args[1]=x'], { args: [undefined, 'x'] }],
    ['comma-separated pairs', ['a.b=1,a.c=two'], { a: { b: 1, c: 'two' } }],
    ['several expressions', ['a.b=1', 'a.c=2'], { a: { b: 1, c: 2 } }],
    [
      'a list in braces',
      ['hosts={a.example.com,b.example.com}'],
      { hosts: ['a.example.com', 'b.example.com'] },
    ],
    [
      'an escaped dot in a key',
      ['annotations.app\\.kubernetes\\.io/name=web'],
      { annotations: { 'app.kubernetes.io/name': 'web' } },
    ],
    ['an escaped comma in a value', ['a=x\\,y'], { a: 'x,y' }],
    ['an equals sign in the value', ['a=b=c'], { a: 'b=c' }],
    [
      'a digest-pinned reference',
      [`image=ghcr.io/a/b:1@sha256:${'a'.repeat(64)}`],
      { image: `ghcr.io/a/b:1@sha256:${'a'.repeat(64)}` },
    ],
    [
      'global.imageRegistry with a port',
      ['global.imageRegistry=registry.internal:5000'],
      { global: { imageRegistry: 'registry.internal:5000' } },
    ],
  ];
  it.each(cases)('parses %s', (_name, expressions, expected) => {
    expect(parseSetValues(expressions)).toEqual(expected);
  });

  it.each([['image.tag'], ['=x'], ['a..b=1']])('refuses %s, naming the expression', (expression) => {
    expect(() => parseSetValues([expression])).toThrow(
      expect.objectContaining({
        code: 'BAD_INPUT',
        message: expect.stringContaining(`--set ${expression}:`),
      }),
    );
  });
});
