// A request's agent options against its tenant's policy, before anything is created: where the
// request leaves an option out, the policy's limit becomes the default (tools the policy does not
// allow leave the default set, a smaller maxTurns, the per-run budget, smaller resources); where the
// request names something beyond it, 403 POLICY_VIOLATION naming the limit. Pure.
import type { HangarConfig } from '../config/config.js';
import { HangarError } from '../errors/errors.js';
import { parseHostRule, type HostRule } from '../egress/host-rules.js';
import type { AgentOptions } from '../runner/agent-options.js';
import type { TenantPolicy } from './tenant-policy.js';

type PolicyConfig = Pick<HangarConfig, 'agent' | 'sandbox'>;

/** The error for a request beyond `limit` of the tenant's policy. */
export function policyViolation(tenantId: string, limit: string, message: string): HangarError {
  return new HangarError('POLICY_VIOLATION', `tenant ${tenantId}'s policy (${limit}): ${message}`, { details: { tenantId, limit } });
}

/** True when every host `requested` allows is allowed by one of `allowed` (same or fewer ports, same name or a name under a wildcard). */
export function hostRuleWithin(requested: HostRule, allowed: readonly HostRule[]): boolean {
  return allowed.some((rule) => {
    if (!requested.ports.every((port) => rule.ports.includes(port))) return false;
    if (!rule.wildcard) return !requested.wildcard && requested.host === rule.host;
    return requested.host.endsWith(`.${rule.host}`) || (requested.wildcard && requested.host === rule.host);
  });
}

/** The secrets a request names (the tenant's or configured ones); declared ones are objects. */
function namedSecrets(secrets: unknown): string[] {
  return Array.isArray(secrets) ? secrets.filter((entry): entry is string => typeof entry === 'string') : [];
}

/** POLICY_VIOLATION when a host rule of a secret (declared by a request, or the tenant's own) is not within the policy's allowed hosts. */
export function checkSecretHosts(tenant: { id: string; policy: TenantPolicy }, hosts: readonly string[]): void {
  const allowedHosts = tenant.policy.network?.allowedHosts;
  if (allowedHosts === undefined) return;
  const allowed = allowedHosts.map((rule) => parseHostRule(rule));
  for (const rule of hosts) {
    if (!hostRuleWithin(parseHostRule(rule), allowed))
      throw policyViolation(tenant.id, 'network.allowedHosts', `secret host rule ${rule} is not within the allowed ${allowedHosts.join(', ') || '(none)'}`);
  }
}

/** True when the tenant may use the configured secret `name`: its policy lists it (the default tenant: any, while its policy lists none). */
export function mayUseConfiguredSecret(tenant: { policy: TenantPolicy; isDefaultTenant: boolean }, name: string): boolean {
  const listed = tenant.policy.network?.secrets;
  return listed === undefined ? tenant.isDefaultTenant : listed.includes(name);
}

/**
 * The options with the policy's defaults filled in, or POLICY_VIOLATION for the first limit the
 * request goes beyond. `isDefaultTenant`: the operator's tenant, which may use configured secrets
 * unlisted. `secretNames`: the tenant's own secrets, which it always may use.
 */
export function applyTenantPolicy<T extends AgentOptions>(
  tenant: { id: string; policy: TenantPolicy; isDefaultTenant: boolean; secretNames?: readonly string[] },
  input: T,
  config: PolicyConfig,
): T {
  const { id, policy } = tenant;
  const out: T = { ...input };
  if (policy.allowedTools !== undefined) {
    const allowed = new Set(policy.allowedTools);
    if (out.allowedTools === undefined) out.allowedTools = config.agent.defaultAllowedTools.filter((tool) => allowed.has(tool));
    const beyond = out.allowedTools.filter((tool) => !allowed.has(tool));
    if (beyond.length > 0)
      throw policyViolation(id, 'allowedTools', `tools ${beyond.join(', ')} are not allowed; allowed: ${policy.allowedTools.join(', ') || 'none'}`);
  }
  if (policy.permissionModes !== undefined) {
    const mode = out.permissionMode ?? 'dontAsk';
    if (out.permissionMode === undefined && !policy.permissionModes.includes(mode)) out.permissionMode = policy.permissionModes[0];
    else if (!policy.permissionModes.includes(mode))
      throw policyViolation(id, 'permissionModes', `permission mode ${mode} is not allowed; allowed: ${policy.permissionModes.join(', ')}`);
  }
  if (policy.maxTurns !== undefined) {
    out.maxTurns ??= Math.min(config.agent.defaultMaxTurns, policy.maxTurns);
    if (out.maxTurns > policy.maxTurns) throw policyViolation(id, 'maxTurns', `maxTurns ${out.maxTurns} is over the limit of ${policy.maxTurns}`);
  }
  if (policy.maxBudgetUsd !== undefined) {
    out.maxBudgetUsd ??= policy.maxBudgetUsd;
    if (out.maxBudgetUsd > policy.maxBudgetUsd)
      throw policyViolation(id, 'maxBudgetUsd', `maxBudgetUsd ${out.maxBudgetUsd} is over the limit of ${policy.maxBudgetUsd}`);
  }
  if (policy.maxResources !== undefined) {
    const resources = { ...out.resources };
    for (const field of ['memoryMb', 'cpus', 'diskMb', 'pids'] as const) {
      const limit = policy.maxResources[field];
      if (limit === undefined) continue;
      const asked = resources[field] ?? Math.min(config.sandbox.defaults[field], limit);
      if (asked > limit) throw policyViolation(id, `maxResources.${field}`, `resources.${field} ${asked} is over the limit of ${limit}`);
      resources[field] = asked;
    }
    out.resources = resources;
  }
  const network = out.network;
  if (network !== undefined) {
    const hosts = policy.network?.allowedHosts;
    if (hosts !== undefined) {
      const allowed = hosts.map((rule) => parseHostRule(rule));
      for (const rule of network.allowedHosts ?? []) {
        if (!hostRuleWithin(parseHostRule(rule), allowed))
          throw policyViolation(id, 'network.allowedHosts', `host rule ${rule} is not within the allowed ${hosts.join(', ') || '(none)'}`);
      }
      for (const secret of (network.secrets ?? []) as unknown[]) {
        if (typeof secret === 'object' && secret !== null) checkSecretHosts(tenant, (secret as { hosts?: string[] }).hosts ?? []);
      }
    }
    const presets = policy.network?.presets;
    if (presets !== undefined) {
      const beyond = (network.presets ?? []).filter((preset) => !presets.includes(preset));
      if (beyond.length > 0)
        throw policyViolation(id, 'network.presets', `presets ${beyond.join(', ')} are not allowed; allowed: ${presets.join(', ') || 'none'}`);
    }
    const own = new Set(tenant.secretNames ?? []);
    const configured = namedSecrets(network.secrets).filter((name) => !own.has(name));
    const beyond = configured.filter((name) => !mayUseConfiguredSecret(tenant, name));
    if (beyond.length > 0)
      throw policyViolation(
        id,
        'network.secrets',
        `configured secrets ${beyond.join(', ')} are not the tenant's to use; usable: ${(policy.network?.secrets ?? []).join(', ') || 'none'}`,
      );
  }
  return out;
}
