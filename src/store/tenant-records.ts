// The Store port's tenant part: tenants with their policy, and each tenant's model spend per UTC day
// (the gateway's daily budget). Every task, session and shared sandbox record names its tenant;
// schedules, checkpoints, events and egress records belong to the tenant of their session or task.

/** The tenant every key and resource belongs to when no other is named; it cannot be removed. */
export const DEFAULT_TENANT_ID = 'default';

export interface TenantRecord {
  id: string;
  name: string;
  /** The tenant's policy as stored (src/tenants/tenant-policy.ts parses and checks it). */
  policy: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export interface TenantRepository {
  /** Fails with CONFLICT when the id is taken. */
  insert(tenant: TenantRecord): Promise<void>;
  get(id: string): Promise<TenantRecord | undefined>;
  /** Every tenant, oldest first. */
  list(): Promise<TenantRecord[]>;
  /** Replaces the name and policy; fails with TENANT_NOT_FOUND when absent. */
  update(id: string, patch: Partial<Pick<TenantRecord, 'name' | 'policy' | 'updatedAt'>>): Promise<TenantRecord>;
}

/** What a tenant spent on the model in one UTC day. */
export interface TenantDailyUsage {
  tenantId: string;
  /** YYYY-MM-DD (UTC). */
  day: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface TenantUsageRepository {
  /** Adds to the tenant's totals of the day (creating the day's row). */
  add(tenantId: string, day: string, delta: Pick<TenantDailyUsage, 'requests' | 'inputTokens' | 'outputTokens' | 'costUsd'>): Promise<void>;
  /** The tenant's totals of the day: zeros when nothing was spent. */
  get(tenantId: string, day: string): Promise<TenantDailyUsage>;
}

/** A day's totals before anything was spent. */
export function emptyDailyUsage(tenantId: string, day: string): TenantDailyUsage {
  return { tenantId, day, requests: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
}
