import { describe, expect, it } from 'vitest';
import { registryErrorOf } from '../../lib/registry/request.ts';

describe("registryErrorOf: the first entry of a registry's error body", () => {
  it.each([
    [
      'a Distribution error document',
      '{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"},{"code":"MANIFEST_BLOB_UNKNOWN"}]}',
      { code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' },
    ],
    ['a code alone', '{"errors":[{"code":"NAME_UNKNOWN","detail":{"name":"x"}}]}', { code: 'NAME_UNKNOWN' }],
    [
      'a code that is not a string',
      '{"errors":[{"code":404,"message":"not found"}]}',
      { message: 'not found' },
    ],
    ['an empty list', '{"errors":[]}', {}],
    ['another JSON document', '{"error":"nope"}', {}],
    ['errors that are not a list', '{"errors":"nope"}', {}],
    ['an HTML page from a proxy', '<html><body>502 Bad Gateway</body></html>', {}],
  ])('reads %s', (_, body, expected) => {
    const said = registryErrorOf(Buffer.from(body));
    expect({ code: said.code, message: said.message }).toEqual({
      code: undefined,
      message: undefined,
      ...expected,
    });
  });

  it('reads nothing from no body', () => {
    expect(registryErrorOf(undefined)).toEqual({});
  });
});
