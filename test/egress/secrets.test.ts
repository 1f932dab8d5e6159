// Secret declarations and header rewriting, without sockets.
import { describe, expect, it } from 'vitest';
import { createSecretSet } from '../../src/egress/index.js';

describe('secret set', () => {
  it('refuses bad declarations with a message naming them', () => {
    expect(() => createSecretSet([{ name: '1BAD', value: 'x', hosts: ['a.test'] }])).toThrow(/environment variable name/);
    expect(() => createSecretSet([{ name: 'A', value: 'x\ny', hosts: ['a.test'] }])).toThrow(/one line/);
    expect(() => createSecretSet([{ name: 'A', value: 'x', hosts: [] }])).toThrow(/at least one host/);
    expect(() => createSecretSet([{ name: 'A', value: 'x', hosts: ['a.test'], inject: { header: 'bad header' } }])).toThrow(/not a header name/);
    expect(() =>
      createSecretSet([
        { name: 'A', value: 'x', hosts: ['a.test'] },
        { name: 'A', value: 'y', hosts: ['b.test'] },
      ]),
    ).toThrow(/declared twice/);
    expect(() => createSecretSet([{ name: 'A', value: 'x', hosts: ['a b'] }])).toThrow(/invalid host rule/);
    expect(() => createSecretSet([{ name: 'A', value: 'x', hosts: ['a.test'], inject: { header: 'Content-Length' } }])).toThrow(/frames or routes the request/);
    expect(() => createSecretSet([{ name: 'A', value: 'x', hosts: ['a.test'], inject: { header: 'X-Key', template: '{value}\r\nX: 1' } }])).toThrow(/one line/);
    expect(() => createSecretSet([{ name: 'A', value: 'x\u0001', hosts: ['a.test'] }])).toThrow(/characters a header may carry/);
  });

  it('intercepts only the declared hosts and rewrites every header value there', () => {
    const secrets = createSecretSet([{ name: 'TOKEN', value: 'v', hosts: ['*.example.com'] }], (name) => `ph-${name}`);
    expect(secrets.environment).toEqual({ TOKEN: 'ph-TOKEN' });
    expect(secrets.intercepts('api.example.com', 443)).toBe(true);
    expect(secrets.intercepts('example.com', 443)).toBe(false);
    expect(secrets.intercepts('api.example.com', 8443)).toBe(false);
    expect(secrets.rewrite('api.example.com', 443, { authorization: 'Bearer ph-TOKEN', cookie: ['a=ph-TOKEN', 'b=1'] })).toEqual({
      ok: true,
      headers: { authorization: 'Bearer v', cookie: ['a=v', 'b=1'] },
      injected: ['TOKEN'],
    });
    expect(secrets.rewrite('evil.test', 443, { authorization: 'Bearer ph-TOKEN' })).toEqual({
      ok: false,
      reason: 'the placeholder of secret TOKEN was sent to evil.test:443, which it is not declared for',
    });
    expect(secrets.placeholdersIn('x ph-TOKEN y')).toEqual(['TOKEN']);
  });
});
