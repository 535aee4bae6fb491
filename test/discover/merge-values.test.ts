import { describe, expect, it } from 'vitest';
import { mergeValues, valueAt } from '../../lib/discover/merge-values.ts';

describe('mergeValues', () => {
  it('merges maps key by key, the override winning', () => {
    expect(mergeValues({ image: { repository: 'a', tag: '1' } }, { image: { tag: '2' } })).toEqual({
      image: { repository: 'a', tag: '2' },
    });
  });

  it('replaces lists whole, as helm does', () => {
    expect(mergeValues({ args: ['a', 'b'] }, { args: ['c'] })).toEqual({ args: ['c'] });
  });

  it('deletes a key set to null', () => {
    expect(mergeValues({ image: { digest: 'x', tag: '1' } }, { image: { digest: null } })).toEqual({
      image: { tag: '1' },
    });
  });

  it('leaves its inputs untouched', () => {
    const base = { a: { b: 1 } };
    mergeValues(base, { a: { b: 2 } });
    expect(base).toEqual({ a: { b: 1 } });
  });
});

describe('valueAt', () => {
  it('reads a dotted path and returns undefined past a scalar', () => {
    expect(valueAt({ a: { b: { c: 3 } } }, 'a.b.c')).toBe(3);
    expect(valueAt({ a: 1 }, 'a.b')).toBeUndefined();
  });
});
