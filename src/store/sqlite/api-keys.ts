// API keys: one row per key; the secret is stored as its SHA-256 hash only.
import type { Kysely } from 'kysely';
import { HangarError } from '../../errors/errors.js';
import type { ApiKeyRecord, ApiKeyRepository } from '../store.js';
import type { ApiKeysTable, StoreDatabase } from './schema.js';
import { insertOrConflict, json, parse } from './sql-helpers.js';

function rowToApiKey(row: ApiKeysTable): ApiKeyRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    secretHash: row.secret_hash,
    scopes: parse(row.scopes_json),
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}

function apiKeyToRow(key: ApiKeyRecord): ApiKeysTable {
  return {
    id: key.id,
    tenant_id: key.tenantId,
    name: key.name,
    secret_hash: key.secretHash,
    scopes_json: json(key.scopes),
    created_at: key.createdAt,
    revoked_at: key.revokedAt,
    last_used_at: key.lastUsedAt,
  };
}

export function createApiKeyRepository(db: Kysely<StoreDatabase>): ApiKeyRepository {
  const get = async (id: string): Promise<ApiKeyRecord | undefined> => {
    const row = await db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : rowToApiKey(row);
  };
  return {
    async insert(key) {
      await insertOrConflict(`API key ${key.id}`, () => db.insertInto('api_keys').values(apiKeyToRow(key)).execute());
    },
    get,
    async list() {
      const rows = await db.selectFrom('api_keys').selectAll().orderBy('created_at').orderBy('id').execute();
      return rows.map(rowToApiKey);
    },
    async revoke(id, at) {
      return db.transaction().execute(async (trx) => {
        const row = await trx.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
        if (row === undefined) throw new HangarError('API_KEY_NOT_FOUND', `API key ${id} does not exist`);
        if (row.revoked_at !== null) return rowToApiKey(row);
        await trx.updateTable('api_keys').set({ revoked_at: at }).where('id', '=', id).execute();
        return rowToApiKey({ ...row, revoked_at: at });
      });
    },
    async touch(id, at) {
      await db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute();
    },
  };
}
