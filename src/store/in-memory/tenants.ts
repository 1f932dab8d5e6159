// In-memory tenants and their daily model spend.
import { HangarError } from '../../errors/errors.js';
import { emptyDailyUsage, type TenantDailyUsage, type TenantRecord, type TenantRepository, type TenantUsageRepository } from '../tenant-records.js';
import { copy, definedFields, oldestFirst } from './record-helpers.js';

export function createInMemoryTenants(): { tenants: TenantRepository; tenantUsage: TenantUsageRepository; clear(): void } {
  const tenants = new Map<string, TenantRecord>();
  const usage = new Map<string, TenantDailyUsage>();
  return {
    tenants: {
      async insert(tenant) {
        if (tenants.has(tenant.id)) throw new HangarError('CONFLICT', `tenant ${tenant.id} already exists`);
        tenants.set(tenant.id, copy(tenant));
      },
      async get(id) {
        const tenant = tenants.get(id);
        return tenant === undefined ? undefined : copy(tenant);
      },
      async list() {
        return [...tenants.values()].sort(oldestFirst).map(copy);
      },
      async update(id, patch) {
        const current = tenants.get(id);
        if (current === undefined) throw new HangarError('TENANT_NOT_FOUND', `tenant ${id} does not exist`);
        const next: TenantRecord = { ...current, ...definedFields(patch, ['id', 'createdAt']) };
        tenants.set(id, next);
        return copy(next);
      },
    },
    tenantUsage: {
      async add(tenantId, day, delta) {
        const key = JSON.stringify([tenantId, day]);
        const current = usage.get(key) ?? emptyDailyUsage(tenantId, day);
        usage.set(key, {
          ...current,
          requests: current.requests + delta.requests,
          inputTokens: current.inputTokens + delta.inputTokens,
          outputTokens: current.outputTokens + delta.outputTokens,
          costUsd: current.costUsd + delta.costUsd,
        });
      },
      async get(tenantId, day) {
        return copy(usage.get(JSON.stringify([tenantId, day])) ?? emptyDailyUsage(tenantId, day));
      },
    },
    clear() {
      tenants.clear();
      usage.clear();
    },
  };
}
