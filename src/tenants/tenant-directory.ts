// The tenants: made and changed through the admin API, read on every request that needs a policy.
// Policies are cached for a few seconds (a change reaches every node within that time); the default
// tenant always exists (made at startup with an empty policy) and owns every record made before tenants.
import { HangarError } from '../errors/errors.js';
import { DEFAULT_TENANT_ID, type Store, type TenantRecord } from '../store/store.js';
import { readTenantPolicy, type TenantPolicy } from './tenant-policy.js';

/** How long a policy read from the store is used before it is read again. */
const POLICY_CACHE_MS = 2_000;

export interface TenantDirectory {
  /** Makes the default tenant if it is missing (startup). */
  ensureDefault(): Promise<void>;
  /** The tenant, or TENANT_NOT_FOUND. */
  get(id: string): Promise<TenantRecord>;
  list(): Promise<TenantRecord[]>;
  create(input: { id: string; name?: string | undefined; policy?: TenantPolicy | undefined }): Promise<TenantRecord>;
  /** Replaces the name and/or the whole policy. */
  update(id: string, patch: { name?: string | undefined; policy?: TenantPolicy | undefined }): Promise<TenantRecord>;
  /** The tenant's policy (cached briefly); an unknown tenant has none it could use: TENANT_NOT_FOUND. */
  policyOf(id: string): Promise<TenantPolicy>;
}

export function createTenantDirectory(store: Pick<Store, 'tenants'>, now: () => Date = () => new Date()): TenantDirectory {
  const cache = new Map<string, { policy: TenantPolicy; at: number }>();
  const notFound = (id: string): HangarError => new HangarError('TENANT_NOT_FOUND', `tenant ${id} does not exist`);
  const directory: TenantDirectory = {
    async ensureDefault() {
      if ((await store.tenants.get(DEFAULT_TENANT_ID)) !== undefined) return;
      const at = now().toISOString();
      await store.tenants
        .insert({ id: DEFAULT_TENANT_ID, name: 'Default tenant (the operator)', policy: {}, createdAt: at, updatedAt: at })
        .catch((error: unknown) => {
          // Another node made it first.
          if (!(error instanceof HangarError && error.code === 'CONFLICT')) throw error;
        });
    },
    async get(id) {
      const tenant = await store.tenants.get(id);
      if (tenant === undefined) throw notFound(id);
      return tenant;
    },
    list: () => store.tenants.list(),
    async create(input) {
      const at = now().toISOString();
      const tenant: TenantRecord = { id: input.id, name: input.name ?? input.id, policy: input.policy ?? {}, createdAt: at, updatedAt: at };
      await store.tenants.insert(tenant);
      return tenant;
    },
    async update(id, patch) {
      const updated = await store.tenants.update(id, {
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.policy !== undefined ? { policy: patch.policy } : {}),
        updatedAt: now().toISOString(),
      });
      cache.delete(id);
      return updated;
    },
    async policyOf(id) {
      const cached = cache.get(id);
      const at = now().getTime();
      if (cached !== undefined && at - cached.at < POLICY_CACHE_MS) return cached.policy;
      const tenant = await store.tenants.get(id);
      if (tenant === undefined) throw notFound(id);
      const policy = readTenantPolicy(id, tenant.policy);
      cache.set(id, { policy, at });
      if (cache.size > 10_000) cache.clear();
      return policy;
    },
  };
  return directory;
}
