// Host rules, presets and the egress policy: what a task or session's `network` allows.
import { describe, expect, it } from 'vitest';
import { createEgressPolicy, EGRESS_PRESETS, matchHostRule, parseHostRule } from '../../src/egress/index.js';

describe('host rules', () => {
  it('match exact names, wildcards below a suffix, and the default or named ports', () => {
    const rules = ['api.github.com', '*.example.com', 'example.org:8443', '203.0.113.7', '[2001:db8::1]:22'].map(parseHostRule);
    expect(matchHostRule(rules, 'API.GitHub.com.', 443)?.source).toBe('api.github.com');
    expect(matchHostRule(rules, 'api.github.com', 80)?.source).toBe('api.github.com');
    expect(matchHostRule(rules, 'api.github.com', 8080)).toBeUndefined();
    expect(matchHostRule(rules, 'github.com', 443)).toBeUndefined();
    expect(matchHostRule(rules, 'a.b.example.com', 443)?.source).toBe('*.example.com');
    expect(matchHostRule(rules, 'example.com', 443)).toBeUndefined();
    expect(matchHostRule(rules, 'badexample.com', 443)).toBeUndefined();
    expect(matchHostRule(rules, 'example.org', 8443)?.source).toBe('example.org:8443');
    expect(matchHostRule(rules, 'example.org', 443)).toBeUndefined();
    expect(matchHostRule(rules, '203.0.113.7', 443)?.source).toBe('203.0.113.7');
    expect(matchHostRule(rules, '[2001:db8::1]', 22)?.source).toBe('[2001:db8::1]:22');
  });

  it('refuse malformed rules with a message naming them', () => {
    for (const bad of ['', 'exa mple.com', 'example.com:0', 'example.com:99999', 'example.com:http', '*.com', '*.10.0.0.1', 'http://example.com', '-bad.com']) {
      expect(() => parseHostRule(bad), bad).toThrow(/invalid host rule/);
    }
  });
});

describe('egress policy', () => {
  it('denies by default and allows the hosts and presets named', () => {
    expect(createEgressPolicy().checkName('registry.npmjs.org', 443)).toEqual({
      allowed: false,
      reason: 'host registry.npmjs.org:443 is not in the allowed hosts',
    });
    const policy = createEgressPolicy({ allowedHosts: ['api.github.com'], presets: ['npm'] });
    expect(policy.checkName('registry.npmjs.org', 443)).toEqual({ allowed: true, rule: 'preset npm: registry.npmjs.org' });
    expect(policy.checkName('api.github.com', 443)).toEqual({ allowed: true, rule: 'api.github.com' });
    expect(policy.checkName('pypi.org', 443).allowed).toBe(false);
    expect(policy.checkName('10.0.0.1', 443)).toEqual({ allowed: false, reason: 'IP address 10.0.0.1:443 is not in the allowed hosts' });
  });

  it('allows nothing in learn mode', () => {
    const policy = createEgressPolicy({ allowedHosts: ['api.github.com'], mode: 'learn' });
    expect(policy.mode).toBe('learn');
    expect(policy.checkName('api.github.com', 443).allowed).toBe(false);
  });

  it('refuses an unknown preset, and every preset entry is a valid rule', () => {
    expect(() => createEgressPolicy({ presets: ['npmm' as 'npm'] })).toThrow(/unknown egress preset "npmm": use one of npm, pypi, github, debian, anthropic/);
    for (const hosts of Object.values(EGRESS_PRESETS)) for (const host of hosts) expect(() => parseHostRule(host)).not.toThrow();
  });
});
