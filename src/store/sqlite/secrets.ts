// Secrets: one row per owner and name, holding the sealed value only (egress/secret-sealing.ts) and,
// for a tenant's secret, where the value may go (use_json).
import type { Kysely } from 'kysely';
import type { SealedSecretRecord, SecretOwnerKind, SecretRepository, StoredSecretUse } from '../store.js';
import type { SecretsTable, StoreDatabase } from './schema.js';

function rowToSecret(row: SecretsTable): SealedSecretRecord {
  return {
    owner: { kind: row.owner_kind as SecretOwnerKind, id: row.owner_id },
    name: row.name,
    sealed: new Uint8Array(row.sealed),
    ...(row.use_json !== null ? { use: JSON.parse(row.use_json) as StoredSecretUse } : {}),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function secretToRow(secret: SealedSecretRecord): SecretsTable {
  return {
    owner_kind: secret.owner.kind,
    owner_id: secret.owner.id,
    name: secret.name,
    sealed: Buffer.from(secret.sealed),
    use_json: secret.use !== undefined ? JSON.stringify(secret.use) : null,
    created_at: secret.createdAt,
    updated_at: secret.updatedAt,
  };
}

export function createSecretRepository(db: Kysely<StoreDatabase>): SecretRepository {
  const ofOwner = (owner: { kind: string; id: string }) => db.deleteFrom('secrets').where('owner_kind', '=', owner.kind).where('owner_id', '=', owner.id);
  return {
    async put(secrets) {
      if (secrets.length === 0) return;
      await db.transaction().execute(async (trx) => {
        for (const secret of secrets) {
          const row = secretToRow(secret);
          await trx
            .insertInto('secrets')
            .values(row)
            // A replaced secret keeps its created_at.
            .onConflict((conflict) =>
              conflict.columns(['owner_kind', 'owner_id', 'name']).doUpdateSet({ sealed: row.sealed, use_json: row.use_json, updated_at: row.updated_at }),
            )
            .execute();
        }
      });
    },
    async list(owner) {
      const rows = await db.selectFrom('secrets').selectAll().where('owner_kind', '=', owner.kind).where('owner_id', '=', owner.id).orderBy('name').execute();
      return rows.map(rowToSecret);
    },
    async owners(kind) {
      const rows = await db.selectFrom('secrets').select('owner_id').distinct().where('owner_kind', '=', kind).orderBy('owner_id').execute();
      return rows.map((row) => row.owner_id);
    },
    async delete(owner, name) {
      const result = await ofOwner(owner).where('name', '=', name).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
    async deleteOwner(owner) {
      const result = await ofOwner(owner).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
