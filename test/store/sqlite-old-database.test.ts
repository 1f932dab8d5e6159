// Database files written before the SQLite adapter became src/store/sqlite/ open with today's code:
// the fixtures are SQL dumps of such files (see their headers), built into database files here.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import {
  OLD_CHECKPOINTS,
  OLD_EVENTS,
  OLD_MESSAGE_PATCH,
  OLD_MESSAGES,
  OLD_SCHEDULES,
  OLD_SESSION,
  OLD_SHARED_SANDBOXES,
  OLD_SUBAGENT_KEY,
  OLD_SUBAGENT_TRANSCRIPT,
  OLD_TASKS,
  OLD_TRANSCRIPT,
  OLD_TRANSCRIPT_KEY,
} from './fixtures/old-database-records.js';
import { makeEntry } from '../contracts/store.contract.js';

const directory = mkdtempSync(path.join(tmpdir(), 'hangar-old-db-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** A database file built from a fixture dump. */
function databaseFrom(fixture: string): string {
  const filePath = path.join(directory, `${fixture}-${Math.random().toString(36).slice(2)}.db`);
  const database = new Database(filePath);
  database.exec(readFileSync(new URL(`./fixtures/${fixture}`, import.meta.url), 'utf8'));
  database.close();
  return filePath;
}

/** The schema objects of a database file and the migrations it records. */
function schemaOf(filePath: string): { objects: Array<{ type: string; name: string; sql: string | null }>; migrations: string[] } {
  const database = new Database(filePath, { readonly: true });
  try {
    return {
      objects: database.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY type, name').all() as Array<{
        type: string;
        name: string;
        sql: string | null;
      }>,
      migrations: (database.prepare('SELECT name FROM kysely_migration ORDER BY name').all() as Array<{ name: string }>).map((row) => row.name),
    };
  } finally {
    database.close();
  }
}

async function freshSchema(): Promise<ReturnType<typeof schemaOf>> {
  const filePath = path.join(directory, `fresh-${Math.random().toString(36).slice(2)}.db`);
  await (await createSqliteStore({ filePath })).close();
  return schemaOf(filePath);
}

describe('SQLite database files from before src/store/sqlite/', () => {
  it('opens a database at migration 0004 with the same schema as a new one, and reads every record back', async () => {
    const filePath = databaseFrom('sqlite-0004.sql');
    const store = await createSqliteStore({ filePath });
    try {
      for (const task of OLD_TASKS) expect(await store.tasks.get(task.id)).toEqual(task);
      expect(await store.sessions.get(OLD_SESSION.id)).toEqual(OLD_SESSION);
      expect((await store.sessions.list({ limit: 10, metadata: { team: 'a', env: 'prod' } })).map((session) => session.id)).toEqual([OLD_SESSION.id]);
      const messages = await store.messages.list(OLD_SESSION.id, { limit: 10 });
      expect(messages).toEqual([
        {
          ...OLD_MESSAGES[0],
          seq: 1,
          status: OLD_MESSAGE_PATCH.status,
          error: null,
          startedAt: OLD_MESSAGE_PATCH.startedAt,
          finishedAt: OLD_MESSAGE_PATCH.finishedAt,
        },
        { ...OLD_MESSAGES[1], seq: 2, status: 'queued', error: null, startedAt: null, finishedAt: null },
      ]);
      const events = await store.events.read(OLD_SESSION.id, { after: 0, limit: 10 });
      expect(events.map(({ createdAt: _createdAt, ...event }) => event)).toEqual(
        OLD_EVENTS.map((event, index) => ({ sessionId: OLD_SESSION.id, seq: index + 1, ...event })),
      );
      expect(await store.checkpoints.list(OLD_SESSION.id, 10)).toEqual(OLD_CHECKPOINTS);
      expect(await store.transcripts.load(OLD_TRANSCRIPT_KEY)).toEqual(OLD_TRANSCRIPT);
      expect(await store.transcripts.load(OLD_SUBAGENT_KEY)).toEqual(OLD_SUBAGENT_TRANSCRIPT);
      expect(await store.transcripts.listSubkeys(OLD_TRANSCRIPT_KEY)).toEqual([OLD_SUBAGENT_KEY.subpath]);
      expect(await store.schedules.list(OLD_SESSION.id)).toEqual(OLD_SCHEDULES);
      expect(await store.sharedSandboxes.list()).toEqual(OLD_SHARED_SANDBOXES);

      // The counters go on where the old code left them.
      expect(
        (await store.messages.enqueue({ id: 'm-3', sessionId: OLD_SESSION.id, prompt: 'third', source: 'api', createdAt: '2026-01-03T00:00:00.000Z' })).seq,
      ).toBe(3);
      expect((await store.events.append(OLD_SESSION.id, [{ type: 'woke', data: null }])).map((event) => event.seq)).toEqual([4]);
      await store.transcripts.append(OLD_TRANSCRIPT_KEY, [makeEntry('u-2', 'second again'), makeEntry('u-3', 'third')]);
      expect(await store.transcripts.load(OLD_TRANSCRIPT_KEY)).toEqual([...OLD_TRANSCRIPT, makeEntry('u-3', 'third')]);
      expect(await store.tasks.update('t-failed', { result: 'retried' })).toEqual({ ...OLD_TASKS[1], result: 'retried' });
    } finally {
      await store.close();
    }
    expect(schemaOf(filePath)).toEqual(await freshSchema());
  });

  it('migrates a database at migration 0003: its checkpoints read back without a manifest', async () => {
    const filePath = databaseFrom('sqlite-0003.sql');
    expect(schemaOf(filePath).migrations).toEqual(['0001-tasks', '0002-sessions', '0003-checkpoint-blob-keys']);
    const store = await createSqliteStore({ filePath });
    try {
      expect(await store.checkpoints.get('cp-pre-manifest')).toEqual(OLD_CHECKPOINTS[1]);
      await store.checkpoints.insert(OLD_CHECKPOINTS[0]!);
      expect(await store.checkpoints.get('cp-new')).toEqual(OLD_CHECKPOINTS[0]);
    } finally {
      await store.close();
    }
    expect(schemaOf(filePath)).toEqual(await freshSchema());
  });
});
