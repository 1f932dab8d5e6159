// The share of live sandboxes a tenant's new sandbox counts against: its id and its policy's
// maxConcurrentSandboxes (sessions/admission.ts keeps the count).
import type { TenantShare } from '../sessions/admission.js';
import { DEFAULT_TENANT_ID } from '../store/store.js';
import type { TenantDirectory } from './tenant-directory.js';

export type TenantPolicies = Pick<TenantDirectory, 'policyOf'>;

/** The tenant's share; without a directory (unit tests), the tenant has no ceiling of its own. */
export async function tenantShareOf(tenants: TenantPolicies | undefined, tenantId: string = DEFAULT_TENANT_ID): Promise<TenantShare> {
  if (tenants === undefined) return { tenantId };
  const policy = await tenants.policyOf(tenantId);
  return { tenantId, maxLive: policy.maxConcurrentSandboxes };
}
