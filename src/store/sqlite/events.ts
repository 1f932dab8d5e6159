// The event log: one row per event, numbered per session from the 'events' sequence in the transaction
// that inserts them, so concurrent appends get consecutive numbers with no gap.
import type { Kysely } from 'kysely';
import type { EventLogRepository, SessionEvent } from '../store.js';
import type { SessionEventsTable, StoreDatabase } from './schema.js';
import { advanceSequence, chunks, isoNow, json, parse } from './sql-helpers.js';

function rowToEvent(row: SessionEventsTable): SessionEvent {
  return { sessionId: row.session_id, seq: Number(row.seq), type: row.type, data: parse(row.data_json), createdAt: row.created_at };
}

function eventToRow(event: SessionEvent): SessionEventsTable {
  return { session_id: event.sessionId, seq: event.seq, type: event.type, data_json: json(event.data), created_at: event.createdAt };
}

export function createEventLogRepository(db: Kysely<StoreDatabase>): EventLogRepository {
  return {
    async append(sessionId, events) {
      if (events.length === 0) return [];
      return db.transaction().execute(async (trx) => {
        const last = await advanceSequence(trx, 'events', sessionId, events.length);
        const createdAt = isoNow();
        const rows = events.map((event, index) =>
          eventToRow({ sessionId, seq: last - events.length + 1 + index, type: event.type, data: event.data, createdAt }),
        );
        for (const chunk of chunks(rows)) await trx.insertInto('session_events').values(chunk).execute();
        return rows.map(rowToEvent);
      });
    },
    async read(sessionId, options) {
      const rows = await db
        .selectFrom('session_events')
        .selectAll()
        .where('session_id', '=', sessionId)
        .where('seq', '>', options.after)
        .orderBy('seq')
        .limit(options.limit)
        .execute();
      return rows.map(rowToEvent);
    },
    async lastSeq(sessionId) {
      const row = await db.selectFrom('sequences').select('last_value').where('kind', '=', 'events').where('owner_id', '=', sessionId).executeTakeFirst();
      return row === undefined ? 0 : Number(row.last_value);
    },
  };
}
