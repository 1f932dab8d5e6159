// Transcripts (the Agent SDK's SessionStore): one transcript_keys row per transcript ever written, with
// its last position, and one transcript_entries row per entry, its JSON kept as the SDK handed it over.
import type { Kysely } from 'kysely';
import type { TranscriptEntry, TranscriptKey, TranscriptRepository } from '../store.js';
import type { StoreDatabase, TranscriptEntriesTable } from './schema.js';
import { chunks, parse } from './sql-helpers.js';

type KeyColumns = Pick<TranscriptEntriesTable, 'project_key' | 'session_id' | 'subpath'>;

/** The stored form of a key: '' stands for the main transcript. */
function keyColumns(key: TranscriptKey): KeyColumns {
  return { project_key: key.projectKey, session_id: key.sessionId, subpath: key.subpath ?? '' };
}

function rowToTranscriptEntry(row: Pick<TranscriptEntriesTable, 'entry_json'>): TranscriptEntry {
  return parse(row.entry_json);
}

function transcriptEntryToRow(key: KeyColumns, position: number, entry: TranscriptEntry, createdAt: string): TranscriptEntriesTable {
  return { ...key, position, uuid: typeof entry.uuid === 'string' ? entry.uuid : null, entry_json: JSON.stringify(entry), created_at: createdAt };
}

export function createTranscriptRepository(db: Kysely<StoreDatabase>): TranscriptRepository {
  return {
    async append(key, entries) {
      const columns = keyColumns(key);
      await db.transaction().execute(async (trx) => {
        const now = new Date();
        await trx
          .insertInto('transcript_keys')
          .values({ ...columns, last_position: 0, mtime: now.getTime(), created_at: now.toISOString() })
          .onConflict((conflict) => conflict.columns(['project_key', 'session_id', 'subpath']).doUpdateSet({ mtime: now.getTime() }))
          .execute();

        // Skip uuids already stored under the key, and repeats within the batch.
        const batchUuids = [...new Set(entries.flatMap((entry) => (typeof entry.uuid === 'string' ? [entry.uuid] : [])))];
        const seen = new Set<string>();
        for (const chunk of chunks(batchUuids)) {
          const stored = await trx
            .selectFrom('transcript_entries')
            .select('uuid')
            .where('project_key', '=', columns.project_key)
            .where('session_id', '=', columns.session_id)
            .where('subpath', '=', columns.subpath)
            .where('uuid', 'in', chunk)
            .execute();
          for (const row of stored) if (row.uuid !== null) seen.add(row.uuid);
        }
        const fresh = entries.filter((entry) => {
          if (typeof entry.uuid !== 'string') return true;
          if (seen.has(entry.uuid)) return false;
          seen.add(entry.uuid);
          return true;
        });
        if (fresh.length === 0) return;

        const { last_position: last } = await trx
          .updateTable('transcript_keys')
          .set((eb) => ({ last_position: eb('last_position', '+', fresh.length) }))
          .where('project_key', '=', columns.project_key)
          .where('session_id', '=', columns.session_id)
          .where('subpath', '=', columns.subpath)
          .returning('last_position')
          .executeTakeFirstOrThrow();
        const first = Number(last) - fresh.length + 1;
        const createdAt = now.toISOString();
        const rows = fresh.map((entry, index) => transcriptEntryToRow(columns, first + index, entry, createdAt));
        for (const chunk of chunks(rows)) {
          // A uuid written by a concurrent writer between the check above and here is skipped too.
          await trx
            .insertInto('transcript_entries')
            .values(chunk)
            .onConflict((conflict) => conflict.columns(['project_key', 'session_id', 'subpath', 'uuid']).where('uuid', 'is not', null).doNothing())
            .execute();
        }
      });
    },
    async load(key, options = {}) {
      const columns = keyColumns(key);
      const written = await db
        .selectFrom('transcript_keys')
        .select('project_key')
        .where('project_key', '=', columns.project_key)
        .where('session_id', '=', columns.session_id)
        .where('subpath', '=', columns.subpath)
        .executeTakeFirst();
      if (written === undefined) return null;
      let select = db
        .selectFrom('transcript_entries')
        .select('entry_json')
        .where('project_key', '=', columns.project_key)
        .where('session_id', '=', columns.session_id)
        .where('subpath', '=', columns.subpath)
        .orderBy('position');
      if (options.limit !== undefined) select = select.limit(options.limit);
      const rows = await select.execute();
      return rows.map(rowToTranscriptEntry);
    },
    async count(key) {
      const columns = keyColumns(key);
      const row = await db
        .selectFrom('transcript_entries')
        .select((eb) => eb.fn.countAll().as('entries'))
        .where('project_key', '=', columns.project_key)
        .where('session_id', '=', columns.session_id)
        .where('subpath', '=', columns.subpath)
        .executeTakeFirstOrThrow();
      return Number(row.entries);
    },
    async listSessions(projectKey) {
      const rows = await db
        .selectFrom('transcript_keys')
        .select(['session_id', 'mtime'])
        .where('project_key', '=', projectKey)
        .where('subpath', '=', '')
        .orderBy('session_id')
        .execute();
      return rows.map((row) => ({ sessionId: row.session_id, mtime: Number(row.mtime) }));
    },
    async listSubkeys(key) {
      const rows = await db
        .selectFrom('transcript_keys')
        .select('subpath')
        .where('project_key', '=', key.projectKey)
        .where('session_id', '=', key.sessionId)
        .where('subpath', '<>', '')
        .orderBy('subpath')
        .execute();
      return rows.map((row) => row.subpath);
    },
    async delete(key) {
      const columns = keyColumns(key);
      await db.transaction().execute(async (trx) => {
        for (const table of ['transcript_entries', 'transcript_keys'] as const) {
          let remove = trx.deleteFrom(table).where('project_key', '=', columns.project_key).where('session_id', '=', columns.session_id);
          // Deleting the main transcript takes every subagent transcript of the session with it.
          if (columns.subpath !== '') remove = remove.where('subpath', '=', columns.subpath);
          await remove.execute();
        }
      });
    },
  };
}
