// Tenants (one row each, the policy as JSON) and their model spend per UTC day.
import { sql, type Kysely } from 'kysely';
import { HangarError } from '../../errors/errors.js';
import { emptyDailyUsage, type TenantRecord, type TenantRepository, type TenantUsageRepository } from '../tenant-records.js';
import type { StoreDatabase, TenantsTable } from './schema.js';
import { insertOrConflict, json, parse, patchRecord, type RowMapping } from './sql-helpers.js';

function rowToTenant(row: TenantsTable): TenantRecord {
  return { id: row.id, name: row.name, policy: parse(row.policy_json), createdAt: row.created_at, updatedAt: row.updated_at };
}

function tenantToRow(tenant: TenantRecord): TenantsTable {
  return { id: tenant.id, name: tenant.name, policy_json: json(tenant.policy), created_at: tenant.createdAt, updated_at: tenant.updatedAt };
}

const TENANTS: RowMapping<'tenants', TenantRecord> = { table: 'tenants', toRecord: rowToTenant, toRow: tenantToRow };

export function createTenantRepository(db: Kysely<StoreDatabase>): TenantRepository {
  return {
    async insert(tenant) {
      await insertOrConflict(`tenant ${tenant.id}`, () => db.insertInto('tenants').values(tenantToRow(tenant)).execute());
    },
    async get(id) {
      const row = await db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : rowToTenant(row);
    },
    async list() {
      const rows = await db.selectFrom('tenants').selectAll().orderBy('created_at').orderBy('id').execute();
      return rows.map(rowToTenant);
    },
    async update(id, patch) {
      return patchRecord(db, TENANTS, id, patch, {
        fixed: ['id', 'createdAt'],
        missing: () => new HangarError('TENANT_NOT_FOUND', `tenant ${id} does not exist`),
      });
    },
  };
}

export function createTenantUsageRepository(db: Kysely<StoreDatabase>): TenantUsageRepository {
  return {
    async add(tenantId, day, delta) {
      // One statement: concurrent adds from several calls of the tenant all count.
      await db
        .insertInto('tenant_daily_usage')
        .values({
          tenant_id: tenantId,
          day,
          requests: delta.requests,
          input_tokens: delta.inputTokens,
          output_tokens: delta.outputTokens,
          cost_usd: delta.costUsd,
        })
        .onConflict((conflict) =>
          conflict.columns(['tenant_id', 'day']).doUpdateSet({
            requests: sql`requests + ${delta.requests}`,
            input_tokens: sql`input_tokens + ${delta.inputTokens}`,
            output_tokens: sql`output_tokens + ${delta.outputTokens}`,
            cost_usd: sql`cost_usd + ${delta.costUsd}`,
          }),
        )
        .execute();
    },
    async get(tenantId, day) {
      const row = await db.selectFrom('tenant_daily_usage').selectAll().where('tenant_id', '=', tenantId).where('day', '=', day).executeTakeFirst();
      if (row === undefined) return emptyDailyUsage(tenantId, day);
      return {
        tenantId,
        day,
        requests: Number(row.requests),
        inputTokens: Number(row.input_tokens),
        outputTokens: Number(row.output_tokens),
        costUsd: Number(row.cost_usd),
      };
    },
  };
}
