// A session's recorded options against its tenant's policy as it is now. A session's options are
// fixed when it is made; a policy the operator tightens later holds the session's next messages
// (from the API and from its schedules) and its forks: 403 POLICY_VIOLATION naming the limit. The
// limits the gateway and admission enforce (daily budget, calls per minute, live sandboxes) apply
// to every call and sandbox anyway.
import type { HangarConfig } from '../config/config.js';
import type { AgentOptions } from '../runner/agent-options.js';
import { DEFAULT_TENANT_ID, type SessionRecord } from '../store/store.js';
import { applyTenantPolicy } from './policy-check.js';
import type { TenantPolicies } from './tenant-share.js';

/** Fails with POLICY_VIOLATION when the session's options are beyond its tenant's policy now. */
export type SessionPolicyCheck = (session: SessionRecord) => Promise<void>;

/** The agent options a session was recorded with, in the form a request gives them. */
export function recordedAgentOptions(options: Record<string, unknown>): AgentOptions {
  const picked: Record<string, unknown> = {};
  for (const field of ['allowedTools', 'disallowedTools', 'maxTurns', 'permissionMode', 'resources', 'network'] as const) {
    if (options[field] !== undefined && options[field] !== null) picked[field] = options[field];
  }
  if (typeof options.maxBudgetUsd === 'number') picked.maxBudgetUsd = options.maxBudgetUsd;
  return picked as AgentOptions;
}

export function createSessionPolicyCheck(settings: {
  tenants: TenantPolicies;
  /** The names of a tenant's own secrets (its policy's configured-secret rule leaves them alone). */
  secretNames?: (tenantId: string) => Promise<string[]>;
  config: Pick<HangarConfig, 'agent' | 'sandbox'>;
}): SessionPolicyCheck {
  return async (session) => {
    const policy = await settings.tenants.policyOf(session.tenantId);
    const secretNames = (await settings.secretNames?.(session.tenantId)) ?? [];
    applyTenantPolicy(
      { id: session.tenantId, policy, isDefaultTenant: session.tenantId === DEFAULT_TENANT_ID, secretNames },
      recordedAgentOptions(session.options),
      settings.config,
    );
  };
}
