// Shared sandboxes (pattern 4): one row per sandbox created on its own.
import type { Kysely } from 'kysely';
import { HangarError } from '../../errors/errors.js';
import type { SharedSandboxRecord, SharedSandboxRepository } from '../store.js';
import type { SharedSandboxesTable, StoreDatabase } from './schema.js';
import { insertOrConflict, json, parse, patchRecord, type RowMapping } from './sql-helpers.js';

function rowToSharedSandbox(row: SharedSandboxesTable): SharedSandboxRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    status: row.status as SharedSandboxRecord['status'],
    resources: parse(row.resources_json),
    createdAt: row.created_at,
    closedAt: row.closed_at,
  };
}

function sharedSandboxToRow(sandbox: SharedSandboxRecord): SharedSandboxesTable {
  return {
    id: sandbox.id,
    tenant_id: sandbox.tenantId,
    status: sandbox.status,
    resources_json: json(sandbox.resources),
    created_at: sandbox.createdAt,
    closed_at: sandbox.closedAt,
  };
}

const SHARED_SANDBOXES: RowMapping<'shared_sandboxes', SharedSandboxRecord> = {
  table: 'shared_sandboxes',
  toRecord: rowToSharedSandbox,
  toRow: sharedSandboxToRow,
};

export function createSharedSandboxRepository(db: Kysely<StoreDatabase>): SharedSandboxRepository {
  return {
    async insert(sandbox) {
      await insertOrConflict(`sandbox ${sandbox.id}`, () => db.insertInto('shared_sandboxes').values(sharedSandboxToRow(sandbox)).execute());
    },
    async update(id, patch) {
      return patchRecord(db, SHARED_SANDBOXES, id, patch, {
        fixed: ['id', 'tenantId', 'resources', 'createdAt'],
        missing: () => new HangarError('SANDBOX_NOT_FOUND', `sandbox ${id} does not exist`),
      });
    },
    async get(id) {
      const row = await db.selectFrom('shared_sandboxes').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : rowToSharedSandbox(row);
    },
    async list(query = {}) {
      let select = db.selectFrom('shared_sandboxes').selectAll();
      if (query.status !== undefined) select = select.where('status', '=', query.status);
      if (query.tenantId !== undefined) select = select.where('tenant_id', '=', query.tenantId);
      const rows = await select.orderBy('created_at').orderBy('id').execute();
      return rows.map(rowToSharedSandbox);
    },
  };
}
