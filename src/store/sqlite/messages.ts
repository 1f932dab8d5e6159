// The message queue: one row per queued prompt, numbered per session from the 'messages' sequence.
import type { Kysely } from 'kysely';
import { HangarError } from '../../errors/errors.js';
import { newQueuedMessage, type MessageQueueRepository, type QueuedMessage } from '../store.js';
import type { SessionMessagesTable, StoreDatabase } from './schema.js';
import { advanceSequence, insertOrConflict, isoNow, json, jsonOrNull, parseOrNull, patchRecord, type RowMapping } from './sql-helpers.js';

function rowToMessage(row: SessionMessagesTable): QueuedMessage {
  return {
    id: row.id,
    sessionId: row.session_id,
    seq: Number(row.seq),
    prompt: row.prompt,
    source: row.source,
    status: row.status as QueuedMessage['status'],
    error: parseOrNull(row.error_json),
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

function messageToRow(message: QueuedMessage): SessionMessagesTable {
  return {
    id: message.id,
    session_id: message.sessionId,
    seq: message.seq,
    prompt: message.prompt,
    source: message.source,
    status: message.status,
    error_json: jsonOrNull(message.error),
    created_at: message.createdAt,
    started_at: message.startedAt,
    finished_at: message.finishedAt,
  };
}

const MESSAGES: RowMapping<'session_messages', QueuedMessage> = { table: 'session_messages', toRecord: rowToMessage, toRow: messageToRow };

export function createMessageQueueRepository(db: Kysely<StoreDatabase>): MessageQueueRepository {
  return {
    async enqueue(message) {
      return insertOrConflict(`message ${message.id}`, () =>
        db.transaction().execute(async (trx) => {
          const queued = newQueuedMessage(message, await advanceSequence(trx, 'messages', message.sessionId, 1));
          await trx.insertInto('session_messages').values(messageToRow(queued)).execute();
          return queued;
        }),
      );
    },
    async nextQueued(sessionId) {
      const row = await db
        .selectFrom('session_messages')
        .selectAll()
        .where('session_id', '=', sessionId)
        .where('status', '=', 'queued')
        .orderBy('seq')
        .limit(1)
        .executeTakeFirst();
      return row === undefined ? undefined : rowToMessage(row);
    },
    async update(id, patch) {
      return patchRecord(db, MESSAGES, id, patch, {
        fixed: ['id', 'sessionId', 'seq', 'prompt', 'source', 'createdAt'],
        missing: () => new HangarError('NOT_FOUND', `message ${id} does not exist`),
      });
    },
    async get(id) {
      const row = await db.selectFrom('session_messages').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : rowToMessage(row);
    },
    async list(sessionId, options) {
      if (options.statuses !== undefined && options.statuses.length === 0) return [];
      let select = db.selectFrom('session_messages').selectAll().where('session_id', '=', sessionId);
      if (options.statuses !== undefined) select = select.where('status', 'in', options.statuses);
      const rows = await select.orderBy('seq').limit(options.limit).execute();
      return rows.map(rowToMessage);
    },
    async interruptRunning(reason) {
      const rows = await db
        .updateTable('session_messages')
        .set({ status: 'interrupted', error_json: json(reason), finished_at: isoNow() })
        .where('status', '=', 'running')
        .returningAll()
        .execute();
      return rows.map(rowToMessage).sort((a, b) => (a.sessionId === b.sessionId ? a.seq - b.seq : a.sessionId < b.sessionId ? -1 : 1));
    },
  };
}
