// SQLite adapter of the Store port (the embedded default): one database file, WAL journal, Kysely as
// the query builder so the same queries run on Postgres later.
//
// Layout, one concern per file:
//   index.ts          createSqliteStore: opens the file, migrates it, assembles the repositories
//   schema.ts         the tables as Kysely sees them
//   migrations/       one file per schema migration; index.ts lists them under the names databases record
//   sql-helpers.ts    JSON columns, timestamps, chunked statements, CONFLICT on duplicate keys, sequence
//                     counters, and patchRecord: every update(id, patch) reads, merges and writes in one
//                     transaction
//   tasks.ts sessions.ts messages.ts events.ts checkpoints.ts transcripts.ts schedules.ts
//   shared-sandboxes.ts api-keys.ts egress.ts tenants.ts secrets.ts
//                     one repository each, with its rowTo<Record> and <record>ToRow mappings beside it
//
// Sequence numbers (queued messages, events, transcript positions) come from a counter row incremented
// inside the transaction that inserts the numbered rows.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { HangarError } from '../../errors/errors.js';
import type { Store } from '../store.js';
import { createCheckpointRepository } from './checkpoints.js';
import { createApiKeyRepository } from './api-keys.js';
import { createEgressLogRepository } from './egress.js';
import { createEventLogRepository } from './events.js';
import { createMessageQueueRepository } from './messages.js';
import { MIGRATIONS } from './migrations/index.js';
import type { StoreDatabase } from './schema.js';
import { createScheduleRepository } from './schedules.js';
import { createSecretRepository } from './secrets.js';
import { createSessionRepository } from './sessions.js';
import { createSharedSandboxRepository } from './shared-sandboxes.js';
import { createTaskRepository } from './tasks.js';
import { createTenantRepository, createTenantUsageRepository } from './tenants.js';
import { createTranscriptRepository } from './transcripts.js';

export interface SqliteStoreSettings {
  /** Database file; its directory is created when missing. */
  filePath: string;
}

/** Opens (and migrates) the SQLite database. */
export async function createSqliteStore(settings: SqliteStoreSettings): Promise<Store> {
  mkdirSync(path.dirname(settings.filePath), { recursive: true });
  const database = new Database(settings.filePath);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('busy_timeout = 5000');
  const db = new Kysely<StoreDatabase>({ dialect: new SqliteDialect({ database }) });
  const migrator = new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS } });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined) {
    await db.destroy();
    throw new HangarError('INTERNAL', `database migration failed: ${(error as Error).message}`, { cause: error });
  }
  return {
    tasks: createTaskRepository(db),
    sessions: createSessionRepository(db),
    messages: createMessageQueueRepository(db),
    events: createEventLogRepository(db),
    checkpoints: createCheckpointRepository(db),
    transcripts: createTranscriptRepository(db),
    schedules: createScheduleRepository(db),
    sharedSandboxes: createSharedSandboxRepository(db),
    egress: createEgressLogRepository(db),
    apiKeys: createApiKeyRepository(db),
    secrets: createSecretRepository(db),
    tenants: createTenantRepository(db),
    tenantUsage: createTenantUsageRepository(db),
    async close() {
      await db.destroy();
    },
  };
}
