// Secrets: one row per owner and name, holding the sealed value only (egress/secret-sealing.ts).
import type { Kysely } from 'kysely';
import type { SealedSecretRecord, SecretOwnerKind, SecretRepository } from '../store.js';
import type { SecretsTable, StoreDatabase } from './schema.js';

function rowToSecret(row: SecretsTable): SealedSecretRecord {
  return {
    owner: { kind: row.owner_kind as SecretOwnerKind, id: row.owner_id },
    name: row.name,
    sealed: new Uint8Array(row.sealed),
    createdAt: row.created_at,
  };
}

function secretToRow(secret: SealedSecretRecord): SecretsTable {
  return {
    owner_kind: secret.owner.kind,
    owner_id: secret.owner.id,
    name: secret.name,
    sealed: Buffer.from(secret.sealed),
    created_at: secret.createdAt,
  };
}

export function createSecretRepository(db: Kysely<StoreDatabase>): SecretRepository {
  return {
    async put(secrets) {
      if (secrets.length === 0) return;
      await db.transaction().execute(async (trx) => {
        for (const secret of secrets) {
          await trx
            .insertInto('secrets')
            .values(secretToRow(secret))
            .onConflict((conflict) =>
              conflict.columns(['owner_kind', 'owner_id', 'name']).doUpdateSet({ sealed: Buffer.from(secret.sealed), created_at: secret.createdAt }),
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
    async deleteOwner(owner) {
      const result = await db.deleteFrom('secrets').where('owner_kind', '=', owner.kind).where('owner_id', '=', owner.id).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
