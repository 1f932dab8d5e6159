// Checkpoint records: one row per checkpoint, its manifest as JSON (null for checkpoints recorded
// before manifests).
import type { Kysely } from 'kysely';
import type { CheckpointRecord, CheckpointRepository } from '../store.js';
import type { CheckpointsTable, StoreDatabase } from './schema.js';
import { insertOrConflict, jsonOrNull, parseOrNull } from './sql-helpers.js';

function rowToCheckpoint(row: CheckpointsTable): CheckpointRecord {
  return {
    id: row.id,
    sessionId: row.session_id,
    turn: Number(row.turn),
    blobKey: row.blob_key,
    sizeBytes: Number(row.size_bytes),
    agentSessionId: row.agent_session_id,
    transcriptEntries: Number(row.transcript_entries),
    manifest: parseOrNull(row.manifest_json),
    createdAt: row.created_at,
  };
}

function checkpointToRow(checkpoint: CheckpointRecord): CheckpointsTable {
  return {
    id: checkpoint.id,
    session_id: checkpoint.sessionId,
    turn: checkpoint.turn,
    blob_key: checkpoint.blobKey,
    size_bytes: checkpoint.sizeBytes,
    agent_session_id: checkpoint.agentSessionId,
    transcript_entries: checkpoint.transcriptEntries,
    manifest_json: jsonOrNull(checkpoint.manifest),
    created_at: checkpoint.createdAt,
  };
}

export function createCheckpointRepository(db: Kysely<StoreDatabase>): CheckpointRepository {
  return {
    async insert(checkpoint) {
      await insertOrConflict(`checkpoint ${checkpoint.id}`, () => db.insertInto('checkpoints').values(checkpointToRow(checkpoint)).execute());
    },
    async get(id) {
      const row = await db.selectFrom('checkpoints').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : rowToCheckpoint(row);
    },
    async list(sessionId, limit, offset = 0) {
      const rows = await db
        .selectFrom('checkpoints')
        .selectAll()
        .where('session_id', '=', sessionId)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .offset(offset)
        .execute();
      return rows.map(rowToCheckpoint);
    },
    async delete(id) {
      await db.deleteFrom('checkpoints').where('id', '=', id).execute();
    },
    async hasBlobKey(blobKey) {
      const row = await db.selectFrom('checkpoints').select('id').where('blob_key', '=', blobKey).limit(1).executeTakeFirst();
      return row !== undefined;
    },
    async sessionIds(options) {
      let query = db.selectFrom('checkpoints').select('session_id').distinct().orderBy('session_id').limit(options.limit);
      if (options.after !== undefined) query = query.where('session_id', '>', options.after);
      return (await query.execute()).map((row) => row.session_id);
    },
  };
}
