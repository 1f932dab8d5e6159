// A request's agent options against its tenant's policy: host rules within the allowed ones, limits
// as defaults, and 403 POLICY_VIOLATION naming the limit for anything beyond.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { parseHostRule } from '../../src/egress/host-rules.js';
import { applyTenantPolicy, checkSecretHosts, hostRuleWithin } from '../../src/tenants/policy-check.js';
import { readTenantPolicy, tenantPolicySchema, type TenantPolicy } from '../../src/tenants/tenant-policy.js';

const config = parseConfig({});
const tenant = (policy: TenantPolicy, isDefaultTenant = false) => ({ id: 'acme', policy, isDefaultTenant });
const within = (requested: string, allowed: string[]) =>
  hostRuleWithin(
    parseHostRule(requested),
    allowed.map((rule) => parseHostRule(rule)),
  );

describe('tenant policy', () => {
  it('finds a host rule within the allowed ones only when every host and port it allows is allowed', () => {
    expect(within('api.example.com', ['*.example.com'])).toBe(true);
    expect(within('*.api.example.com', ['*.example.com'])).toBe(true);
    expect(within('*.example.com', ['*.example.com'])).toBe(true);
    expect(within('example.com', ['*.example.com'])).toBe(false);
    expect(within('*.example.com', ['api.example.com'])).toBe(false);
    expect(within('evilexample.com', ['*.example.com'])).toBe(false);
    expect(within('api.example.com:8443', ['*.example.com'])).toBe(false);
    expect(within('api.example.com:443', ['*.example.com'])).toBe(true);
    expect(within('api.example.com', ['api.example.com:443'])).toBe(false);
    expect(within('203.0.113.7', ['*.example.com'])).toBe(false);
  });

  it("fills in the policy's limits where the request names none", () => {
    const options = applyTenantPolicy(
      tenant({
        allowedTools: ['Read', 'Grep', 'WebFetch'],
        permissionModes: ['plan', 'acceptEdits'],
        maxTurns: 5,
        maxBudgetUsd: 2,
        maxResources: { memoryMb: 256, pids: 4096 },
      }),
      {},
      config,
    );
    expect(options).toEqual({
      allowedTools: ['Read', 'Grep'],
      permissionMode: 'plan',
      maxTurns: 5,
      maxBudgetUsd: 2,
      resources: { memoryMb: 256, pids: config.sandbox.defaults.pids },
    });
    // An empty policy changes nothing.
    expect(applyTenantPolicy(tenant({}), { maxTurns: 50 }, config)).toEqual({ maxTurns: 50 });
  });

  it('refuses what goes beyond with POLICY_VIOLATION naming the limit', () => {
    const refusal = (policy: TenantPolicy, input: Parameters<typeof applyTenantPolicy>[1], isDefaultTenant = false) => {
      try {
        applyTenantPolicy(tenant(policy, isDefaultTenant), input, config);
      } catch (error) {
        return error as { code: string; httpStatus: number; details: { limit: string } };
      }
      throw new Error('not refused');
    };
    expect(refusal({ maxBudgetUsd: 1 }, { maxBudgetUsd: 1.5 })).toMatchObject({
      code: 'POLICY_VIOLATION',
      httpStatus: 403,
      details: { limit: 'maxBudgetUsd' },
    });
    expect(refusal({ maxResources: { cpus: 1 } }, { resources: { cpus: 2 } }).details.limit).toBe('maxResources.cpus');
    expect(
      refusal({ network: { allowedHosts: ['*.example.com'] } }, { network: { secrets: [{ name: 'TOKEN', value: 'v', hosts: ['evil.test'] }] } }).details.limit,
    ).toBe('network.allowedHosts');
    // Configured secrets belong to the operator: another tenant uses one only when its policy lists it.
    expect(refusal({}, { network: { secrets: ['GITHUB_TOKEN'] } }).details.limit).toBe('network.secrets');
    expect(applyTenantPolicy(tenant({ network: { secrets: ['GITHUB_TOKEN'] } }), { network: { secrets: ['GITHUB_TOKEN'] } }, config).network?.secrets).toEqual([
      'GITHUB_TOKEN',
    ]);
    expect(applyTenantPolicy(tenant({}, true), { network: { secrets: ['GITHUB_TOKEN'] } }, config).network?.secrets).toEqual(['GITHUB_TOKEN']);
    // The tenant's own secrets are its to use, also under a name the installation configured.
    const withOwn = { ...tenant({ network: { secrets: [] } }), secretNames: ['GITHUB_TOKEN', 'DEPLOY_KEY'] };
    expect(applyTenantPolicy(withOwn, { network: { secrets: ['GITHUB_TOKEN', 'DEPLOY_KEY'] } }, config).network?.secrets).toEqual([
      'GITHUB_TOKEN',
      'DEPLOY_KEY',
    ]);
    expect(() => applyTenantPolicy(withOwn, { network: { secrets: ['DEPLOY_KEY', 'OTHER_CONFIGURED'] } }, config)).toThrow(/OTHER_CONFIGURED are not/);
  });

  it("refuses a secret's host rule beyond the policy's allowed hosts (checkSecretHosts), and any without host rules in the policy", () => {
    expect(() => checkSecretHosts({ id: 'acme', policy: { network: { allowedHosts: ['*.example.com'] } } }, ['api.example.com', 'evil.test'])).toThrow(
      "tenant acme's policy (network.allowedHosts): secret host rule evil.test is not within the allowed *.example.com",
    );
    expect(() => checkSecretHosts({ id: 'acme', policy: { network: { allowedHosts: ['*.example.com'] } } }, ['api.example.com'])).not.toThrow();
    expect(() => checkSecretHosts({ id: 'acme', policy: {} }, ['anything.test'])).not.toThrow();
  });

  it('validates policies strictly, and refuses everything under a stored policy that no longer parses', () => {
    expect(tenantPolicySchema.safeParse({ maxTurns: 0 }).success).toBe(false);
    expect(tenantPolicySchema.safeParse({ network: { allowedHosts: ['not a host'] } }).success).toBe(false);
    expect(tenantPolicySchema.safeParse({ unknownLimit: 1 }).success).toBe(false);
    expect(() => readTenantPolicy('acme', { maxTurns: 'many' })).toThrow(/does not parse/);
  });
});
