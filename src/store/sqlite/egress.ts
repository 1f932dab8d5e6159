// The egress log: one row per proxy decision, numbered per owner (task or session) with the
// sequences table, pruned to the owner's newest entries as it grows.
import type { Kysely } from 'kysely';
import type { EgressLogEntry, EgressLogRepository } from '../store.js';
import type { EgressLogTable, StoreDatabase } from './schema.js';
import { advanceSequence, chunks } from './sql-helpers.js';

function rowToEgressEntry(row: EgressLogTable): EgressLogEntry {
  return {
    seq: row.seq,
    at: row.at,
    method: row.method,
    host: row.host,
    port: row.port,
    verdict: row.verdict as EgressLogEntry['verdict'],
    reason: row.reason,
    address: row.address,
    bytesOut: row.bytes_out,
    bytesIn: row.bytes_in,
    durationMs: row.duration_ms,
  };
}

function egressEntryToRow(ownerId: string, entry: EgressLogEntry): EgressLogTable {
  return {
    owner_id: ownerId,
    seq: entry.seq,
    at: entry.at,
    method: entry.method,
    host: entry.host,
    port: entry.port,
    verdict: entry.verdict,
    reason: entry.reason,
    address: entry.address,
    bytes_out: entry.bytesOut,
    bytes_in: entry.bytesIn,
    duration_ms: entry.durationMs,
  };
}

export function createEgressLogRepository(db: Kysely<StoreDatabase>): EgressLogRepository {
  return {
    async append(ownerId, entries, keep) {
      if (entries.length === 0) return;
      await db.transaction().execute(async (trx) => {
        const last = await advanceSequence(trx, 'egress', ownerId, entries.length);
        const first = last - entries.length + 1;
        const rows = entries.map((entry, index) => egressEntryToRow(ownerId, { ...entry, seq: first + index }));
        for (const part of chunks(rows)) await trx.insertInto('egress_log').values(part).execute();
        await trx
          .deleteFrom('egress_log')
          .where('owner_id', '=', ownerId)
          .where('seq', '<=', last - keep)
          .execute();
      });
    },
    async list(ownerId, query) {
      const rows = await db
        .selectFrom('egress_log')
        .selectAll()
        .where('owner_id', '=', ownerId)
        .where('seq', '>', query.after ?? 0)
        .orderBy('seq')
        .limit(query.limit)
        .execute();
      return rows.map(rowToEgressEntry);
    },
    async deleteOwner(ownerId) {
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('egress_log').where('owner_id', '=', ownerId).execute();
        await trx.deleteFrom('sequences').where('kind', '=', 'egress').where('owner_id', '=', ownerId).execute();
      });
    },
  };
}
