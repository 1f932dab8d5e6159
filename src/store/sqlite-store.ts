// SQLite adapter of the Store port (the embedded default): one database file, WAL journal,
// Kysely as the query builder so the same queries run on Postgres later. Sequence numbers come from
// a counter row incremented inside the transaction that inserts the numbered rows.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Migration, type Selectable, type Transaction } from 'kysely';
import { HangarError } from '../errors/errors.js';
import type {
  CheckpointManifest,
  CheckpointRecord,
  CheckpointRepository,
  EventLogRepository,
  MessageQueueRepository,
  QueuedMessage,
  ScheduleRecord,
  ScheduleRepository,
  SessionEvent,
  SessionRecord,
  SessionRepository,
  SharedSandboxRecord,
  SharedSandboxRepository,
  Store,
  TaskError,
  TaskListQuery,
  TaskRecord,
  TaskRepository,
  TranscriptEntry,
  TranscriptKey,
  TranscriptRepository,
} from './store.js';
import { newQueuedMessage } from './store.js';

interface TasksTable {
  id: string;
  status: string;
  prompt: string;
  options_json: string;
  created_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  result: string | null;
  error_json: string | null;
  num_turns: number | null;
  agent_session_id: string | null;
  usage_json: string;
  usage_by_model_json: string;
  cost_usd: number;
  files_json: string;
  sandbox_report_json: string | null;
}

interface SessionsTable {
  id: string;
  pattern: string;
  status: string;
  options_json: string;
  metadata_json: string;
  sandbox_id: string | null;
  agent_session_id: string | null;
  forked_from_json: string | null;
  turns: number;
  usage_json: string;
  usage_by_model_json: string;
  cost_usd: number;
  context_tokens: number;
  context_window: number | null;
  last_checkpoint_id: string | null;
  error_json: string | null;
  created_at: string;
  updated_at: string;
  last_activity_at: string;
}

/** One row per metadata key of a session, so list filters are plain indexed equality joins. */
interface SessionMetadataTable {
  session_id: string;
  key: string;
  value: string;
}

interface SessionMessagesTable {
  id: string;
  session_id: string;
  seq: number;
  prompt: string;
  source: string;
  status: string;
  error_json: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

interface SessionEventsTable {
  session_id: string;
  seq: number;
  type: string;
  data_json: string;
  created_at: string;
}

/** Last number handed out per (kind, owner): 'events' and 'messages' per session id. */
interface SequencesTable {
  kind: string;
  owner_id: string;
  last_value: number;
}

interface CheckpointsTable {
  id: string;
  session_id: string;
  turn: number;
  blob_key: string;
  size_bytes: number;
  agent_session_id: string;
  transcript_entries: number;
  /** JSON of the CheckpointManifest; null for checkpoints recorded before manifests. */
  manifest_json: string | null;
  created_at: string;
}

/** One row per transcript ever written: its last position and last write time. */
interface TranscriptKeysTable {
  project_key: string;
  session_id: string;
  /** '' for the main transcript. */
  subpath: string;
  last_position: number;
  /** Epoch ms of the last append. */
  mtime: number;
  created_at: string;
}

interface TranscriptEntriesTable {
  project_key: string;
  session_id: string;
  subpath: string;
  position: number;
  uuid: string | null;
  entry_json: string;
  created_at: string;
}

interface SchedulesTable {
  id: string;
  session_id: string;
  every: string | null;
  cron: string | null;
  prompt: string;
  /** 1 or 0 (SQLite has no boolean binding). */
  enabled: number;
  next_run_at: string;
  last_run_at: string | null;
  created_at: string;
}

interface SharedSandboxesTable {
  id: string;
  status: string;
  resources_json: string;
  created_at: string;
  closed_at: string | null;
}

interface StoreDatabase {
  tasks: TasksTable;
  sessions: SessionsTable;
  session_metadata: SessionMetadataTable;
  session_messages: SessionMessagesTable;
  session_events: SessionEventsTable;
  sequences: SequencesTable;
  checkpoints: CheckpointsTable;
  transcript_keys: TranscriptKeysTable;
  transcript_entries: TranscriptEntriesTable;
  schedules: SchedulesTable;
  shared_sandboxes: SharedSandboxesTable;
}

/** Schema migrations, in order; each runs once per database. */
const MIGRATIONS: Record<string, Migration> = {
  '0001-tasks': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('tasks')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('status', 'text', (column) => column.notNull())
        .addColumn('prompt', 'text', (column) => column.notNull())
        .addColumn('options_json', 'text', (column) => column.notNull())
        .addColumn('created_at', 'text', (column) => column.notNull())
        .addColumn('finished_at', 'text')
        .addColumn('duration_ms', 'integer')
        .addColumn('result', 'text')
        .addColumn('error_json', 'text')
        .addColumn('num_turns', 'integer')
        .addColumn('agent_session_id', 'text')
        .addColumn('usage_json', 'text', (column) => column.notNull())
        .addColumn('usage_by_model_json', 'text', (column) => column.notNull())
        .addColumn('cost_usd', 'real', (column) => column.notNull())
        .addColumn('files_json', 'text', (column) => column.notNull())
        .addColumn('sandbox_report_json', 'text')
        .execute();
      await db.schema.createIndex('tasks_status_created').on('tasks').columns(['status', 'created_at']).execute();
      await db.schema.createIndex('tasks_created').on('tasks').columns(['created_at', 'id']).execute();
    },
  },
  '0002-sessions': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('sessions')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('pattern', 'text', (column) => column.notNull())
        .addColumn('status', 'text', (column) => column.notNull())
        .addColumn('options_json', 'text', (column) => column.notNull())
        .addColumn('metadata_json', 'text', (column) => column.notNull())
        .addColumn('sandbox_id', 'text')
        .addColumn('agent_session_id', 'text')
        .addColumn('forked_from_json', 'text')
        .addColumn('turns', 'integer', (column) => column.notNull())
        .addColumn('usage_json', 'text', (column) => column.notNull())
        .addColumn('usage_by_model_json', 'text', (column) => column.notNull())
        .addColumn('cost_usd', 'double precision', (column) => column.notNull())
        .addColumn('context_tokens', 'integer', (column) => column.notNull())
        .addColumn('context_window', 'integer')
        .addColumn('last_checkpoint_id', 'text')
        .addColumn('error_json', 'text')
        .addColumn('created_at', 'text', (column) => column.notNull())
        .addColumn('updated_at', 'text', (column) => column.notNull())
        .addColumn('last_activity_at', 'text', (column) => column.notNull())
        .execute();
      await db.schema.createIndex('sessions_created').on('sessions').columns(['created_at', 'id']).execute();
      await db.schema.createIndex('sessions_status_created').on('sessions').columns(['status', 'created_at']).execute();
      await db.schema.createIndex('sessions_sandbox').on('sessions').column('sandbox_id').execute();

      await db.schema
        .createTable('session_metadata')
        .addColumn('session_id', 'text', (column) => column.notNull())
        .addColumn('key', 'text', (column) => column.notNull())
        .addColumn('value', 'text', (column) => column.notNull())
        .addPrimaryKeyConstraint('session_metadata_pk', ['session_id', 'key'])
        .execute();
      await db.schema.createIndex('session_metadata_key_value').on('session_metadata').columns(['key', 'value']).execute();

      await db.schema
        .createTable('session_messages')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('session_id', 'text', (column) => column.notNull())
        .addColumn('seq', 'integer', (column) => column.notNull())
        .addColumn('prompt', 'text', (column) => column.notNull())
        .addColumn('source', 'text', (column) => column.notNull())
        .addColumn('status', 'text', (column) => column.notNull())
        .addColumn('error_json', 'text')
        .addColumn('created_at', 'text', (column) => column.notNull())
        .addColumn('started_at', 'text')
        .addColumn('finished_at', 'text')
        .addUniqueConstraint('session_messages_session_seq', ['session_id', 'seq'])
        .execute();
      await db.schema.createIndex('session_messages_session_status_seq').on('session_messages').columns(['session_id', 'status', 'seq']).execute();
      await db.schema.createIndex('session_messages_status').on('session_messages').column('status').execute();

      await db.schema
        .createTable('session_events')
        .addColumn('session_id', 'text', (column) => column.notNull())
        .addColumn('seq', 'integer', (column) => column.notNull())
        .addColumn('type', 'text', (column) => column.notNull())
        .addColumn('data_json', 'text', (column) => column.notNull())
        .addColumn('created_at', 'text', (column) => column.notNull())
        .addPrimaryKeyConstraint('session_events_pk', ['session_id', 'seq'])
        .execute();

      await db.schema
        .createTable('sequences')
        .addColumn('kind', 'text', (column) => column.notNull())
        .addColumn('owner_id', 'text', (column) => column.notNull())
        .addColumn('last_value', 'integer', (column) => column.notNull())
        .addPrimaryKeyConstraint('sequences_pk', ['kind', 'owner_id'])
        .execute();

      await db.schema
        .createTable('checkpoints')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('session_id', 'text', (column) => column.notNull())
        .addColumn('turn', 'integer', (column) => column.notNull())
        .addColumn('blob_key', 'text', (column) => column.notNull())
        .addColumn('size_bytes', 'bigint', (column) => column.notNull())
        .addColumn('agent_session_id', 'text', (column) => column.notNull())
        .addColumn('transcript_entries', 'integer', (column) => column.notNull())
        .addColumn('created_at', 'text', (column) => column.notNull())
        .execute();
      await db.schema.createIndex('checkpoints_session_created').on('checkpoints').columns(['session_id', 'created_at', 'id']).execute();

      await db.schema
        .createTable('transcript_keys')
        .addColumn('project_key', 'text', (column) => column.notNull())
        .addColumn('session_id', 'text', (column) => column.notNull())
        .addColumn('subpath', 'text', (column) => column.notNull())
        .addColumn('last_position', 'integer', (column) => column.notNull())
        .addColumn('mtime', 'bigint', (column) => column.notNull())
        .addColumn('created_at', 'text', (column) => column.notNull())
        .addPrimaryKeyConstraint('transcript_keys_pk', ['project_key', 'session_id', 'subpath'])
        .execute();

      await db.schema
        .createTable('transcript_entries')
        .addColumn('project_key', 'text', (column) => column.notNull())
        .addColumn('session_id', 'text', (column) => column.notNull())
        .addColumn('subpath', 'text', (column) => column.notNull())
        .addColumn('position', 'integer', (column) => column.notNull())
        .addColumn('uuid', 'text')
        .addColumn('entry_json', 'text', (column) => column.notNull())
        .addColumn('created_at', 'text', (column) => column.notNull())
        .addPrimaryKeyConstraint('transcript_entries_pk', ['project_key', 'session_id', 'subpath', 'position'])
        .execute();
      await db.schema
        .createIndex('transcript_entries_uuid')
        .on('transcript_entries')
        .unique()
        .columns(['project_key', 'session_id', 'subpath', 'uuid'])
        .where('uuid', 'is not', null)
        .execute();

      await db.schema
        .createTable('schedules')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('session_id', 'text', (column) => column.notNull())
        .addColumn('every', 'text')
        .addColumn('cron', 'text')
        .addColumn('prompt', 'text', (column) => column.notNull())
        .addColumn('enabled', 'integer', (column) => column.notNull())
        .addColumn('next_run_at', 'text', (column) => column.notNull())
        .addColumn('last_run_at', 'text')
        .addColumn('created_at', 'text', (column) => column.notNull())
        .execute();
      await db.schema.createIndex('schedules_enabled_next_run').on('schedules').columns(['enabled', 'next_run_at']).execute();
      await db.schema.createIndex('schedules_session').on('schedules').columns(['session_id', 'created_at']).execute();

      await db.schema
        .createTable('shared_sandboxes')
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('status', 'text', (column) => column.notNull())
        .addColumn('resources_json', 'text', (column) => column.notNull())
        .addColumn('created_at', 'text', (column) => column.notNull())
        .addColumn('closed_at', 'text')
        .execute();
      await db.schema.createIndex('shared_sandboxes_status_created').on('shared_sandboxes').columns(['status', 'created_at']).execute();
    },
  },
  '0003-checkpoint-blob-keys': {
    async up(db: Kysely<unknown>) {
      // The blob sweep asks, per blob, whether a checkpoint still refers to it.
      await db.schema.createIndex('checkpoints_blob_key').on('checkpoints').column('blob_key').execute();
    },
  },
  '0004-checkpoint-manifests': {
    async up(db: Kysely<unknown>) {
      // What a restore verifies first: archive size and hash, transcript position and hash.
      await db.schema.alterTable('checkpoints').addColumn('manifest_json', 'text').execute();
    },
  },
};

/** Rows per multi-row INSERT or IN list, well under SQLite's and Postgres's bound-parameter limits. */
const CHUNK = 200;

function chunks<T>(items: T[], size = CHUNK): T[][] {
  const result: T[][] = [];
  for (let index = 0; index < items.length; index += size) result.push(items.slice(index, index + size));
  return result;
}

const json = (value: unknown): string => JSON.stringify(value ?? null);
const jsonOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));
const parse = <T>(text: string): T => JSON.parse(text) as T;
const parseOrNull = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

/** True when the error is a primary-key or unique-constraint violation. */
function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** Runs an insert, turning a duplicate key into a CONFLICT error. */
async function insertOrConflict<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (isUniqueViolation(error)) throw new HangarError('CONFLICT', `${what} already exists`, { cause: error });
    throw error;
  }
}

/** Encoders from record fields to columns; a patch is encoded field by field. */
type FieldEncoders<R, Row> = { [K in keyof R]: (value: R[K]) => Partial<Row> };

function encodeFields<R extends object, Row>(encoders: FieldEncoders<R, Row>, record: Partial<R>): Partial<Row> {
  const row: Partial<Row> = {};
  for (const key of Object.keys(record) as Array<keyof R>) {
    const value = record[key];
    const encode = encoders[key] as ((value: unknown) => Partial<Row>) | undefined;
    if (value === undefined || encode === undefined) continue;
    Object.assign(row, encode(value));
  }
  return row;
}

/** Hands out `count` consecutive numbers for (kind, owner) and returns the last one. */
async function advanceSequence(trx: Transaction<StoreDatabase>, kind: string, ownerId: string, count: number): Promise<number> {
  await trx
    .insertInto('sequences')
    .values({ kind, owner_id: ownerId, last_value: 0 })
    .onConflict((conflict) => conflict.columns(['kind', 'owner_id']).doNothing())
    .execute();
  const row = await trx
    .updateTable('sequences')
    .set((eb) => ({ last_value: eb('last_value', '+', count) }))
    .where('kind', '=', kind)
    .where('owner_id', '=', ownerId)
    .returning('last_value')
    .executeTakeFirstOrThrow();
  return Number(row.last_value);
}

/** Applies a patch (when it has columns) to one row and reads the row back; `missing` when there is no such row. */
async function applyPatch<Row>(
  columns: object,
  update: () => Promise<{ numUpdatedRows: bigint }>,
  select: () => Promise<Row | undefined>,
  missing: () => HangarError,
): Promise<Row> {
  if (Object.keys(columns).length > 0) {
    const result = await update();
    if (Number(result.numUpdatedRows) === 0) throw missing();
  }
  const row = await select();
  if (row === undefined) throw missing();
  return row;
}

// ---- tasks ----

function rowToTask(row: Selectable<TasksTable>): TaskRecord {
  return {
    id: row.id,
    status: row.status as TaskRecord['status'],
    prompt: row.prompt,
    options: JSON.parse(row.options_json) as Record<string, unknown>,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
    durationMs: row.duration_ms,
    result: row.result,
    error: row.error_json === null ? null : (JSON.parse(row.error_json) as TaskError),
    numTurns: row.num_turns,
    agentSessionId: row.agent_session_id,
    usage: JSON.parse(row.usage_json) as TaskRecord['usage'],
    usageByModel: JSON.parse(row.usage_by_model_json) as TaskRecord['usageByModel'],
    costUsd: row.cost_usd,
    files: JSON.parse(row.files_json) as TaskRecord['files'],
    sandboxReport: row.sandbox_report_json === null ? null : (JSON.parse(row.sandbox_report_json) as Record<string, unknown>),
  };
}

function taskToRow(task: TaskRecord): TasksTable {
  return {
    id: task.id,
    status: task.status,
    prompt: task.prompt,
    options_json: JSON.stringify(task.options),
    created_at: task.createdAt,
    finished_at: task.finishedAt,
    duration_ms: task.durationMs,
    result: task.result,
    error_json: task.error === null ? null : JSON.stringify(task.error),
    num_turns: task.numTurns,
    agent_session_id: task.agentSessionId,
    usage_json: JSON.stringify(task.usage),
    usage_by_model_json: JSON.stringify(task.usageByModel),
    cost_usd: task.costUsd,
    files_json: JSON.stringify(task.files),
    sandbox_report_json: task.sandboxReport === null ? null : JSON.stringify(task.sandboxReport),
  };
}

function createTaskRepository(db: Kysely<StoreDatabase>): TaskRepository {
  const get = async (id: string): Promise<TaskRecord | undefined> => {
    const row = await db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : rowToTask(row);
  };
  return {
    async insert(task) {
      await insertOrConflict(`task ${task.id}`, () => db.insertInto('tasks').values(taskToRow(task)).execute());
    },
    async update(id, patch) {
      const current = await get(id);
      if (current === undefined) throw new HangarError('TASK_NOT_FOUND', `task ${id} does not exist`);
      const next: TaskRecord = { ...current, ...patch, id: current.id, createdAt: current.createdAt };
      const { id: _id, created_at: _createdAt, ...columns } = taskToRow(next);
      await db.updateTable('tasks').set(columns).where('id', '=', id).execute();
      return next;
    },
    get,
    async list(query: TaskListQuery) {
      let select = db.selectFrom('tasks').selectAll();
      if (query.status !== undefined) select = select.where('status', '=', query.status);
      if (query.before !== undefined) {
        const anchor = await db.selectFrom('tasks').select(['created_at', 'id']).where('id', '=', query.before).executeTakeFirst();
        if (anchor === undefined) throw new HangarError('TASK_NOT_FOUND', `task ${query.before} (the paging cursor) does not exist`);
        select = select.where((eb) =>
          eb.or([
            eb('created_at', '<', anchor.created_at),
            eb.and([eb('created_at', '=', anchor.created_at), eb('id', '<', anchor.id)]),
          ]),
        );
      }
      const rows = await select.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(query.limit).execute();
      return rows.map(rowToTask);
    },
    async interruptRunning(reason) {
      const result = await db
        .updateTable('tasks')
        .set({ status: 'interrupted', error_json: JSON.stringify(reason), finished_at: new Date().toISOString() })
        .where('status', '=', 'running')
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
  };
}

// ---- sessions ----

const SESSION_FIELDS: FieldEncoders<SessionRecord, SessionsTable> = {
  id: (value) => ({ id: value }),
  pattern: (value) => ({ pattern: value }),
  status: (value) => ({ status: value }),
  options: (value) => ({ options_json: json(value) }),
  metadata: (value) => ({ metadata_json: json(value) }),
  sandboxId: (value) => ({ sandbox_id: value }),
  agentSessionId: (value) => ({ agent_session_id: value }),
  forkedFrom: (value) => ({ forked_from_json: jsonOrNull(value) }),
  turns: (value) => ({ turns: value }),
  usage: (value) => ({ usage_json: json(value) }),
  usageByModel: (value) => ({ usage_by_model_json: json(value) }),
  costUsd: (value) => ({ cost_usd: value }),
  contextTokens: (value) => ({ context_tokens: value }),
  contextWindow: (value) => ({ context_window: value }),
  lastCheckpointId: (value) => ({ last_checkpoint_id: value }),
  error: (value) => ({ error_json: jsonOrNull(value) }),
  createdAt: (value) => ({ created_at: value }),
  updatedAt: (value) => ({ updated_at: value }),
  lastActivityAt: (value) => ({ last_activity_at: value }),
};

function rowToSession(row: Selectable<SessionsTable>): SessionRecord {
  return {
    id: row.id,
    pattern: row.pattern as SessionRecord['pattern'],
    status: row.status as SessionRecord['status'],
    options: parse(row.options_json),
    metadata: parse(row.metadata_json),
    sandboxId: row.sandbox_id,
    agentSessionId: row.agent_session_id,
    forkedFrom: parseOrNull(row.forked_from_json),
    turns: Number(row.turns),
    usage: parse(row.usage_json),
    usageByModel: parse(row.usage_by_model_json),
    costUsd: Number(row.cost_usd),
    contextTokens: Number(row.context_tokens),
    contextWindow: row.context_window === null ? null : Number(row.context_window),
    lastCheckpointId: row.last_checkpoint_id,
    error: parseOrNull(row.error_json),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastActivityAt: row.last_activity_at,
  };
}

async function writeSessionMetadata(trx: Transaction<StoreDatabase>, sessionId: string, metadata: Record<string, string>): Promise<void> {
  await trx.deleteFrom('session_metadata').where('session_id', '=', sessionId).execute();
  const rows = Object.entries(metadata).map(([key, value]) => ({ session_id: sessionId, key, value }));
  for (const chunk of chunks(rows)) await trx.insertInto('session_metadata').values(chunk).execute();
}

function createSessionRepository(db: Kysely<StoreDatabase>): SessionRepository {
  return {
    async insert(session) {
      await insertOrConflict(`session ${session.id}`, () =>
        db.transaction().execute(async (trx) => {
          await trx.insertInto('sessions').values(encodeFields(SESSION_FIELDS, session) as SessionsTable).execute();
          await writeSessionMetadata(trx, session.id, session.metadata);
        }),
      );
    },
    async update(id, patch) {
      const { id: _id, createdAt: _createdAt, ...fields } = patch as Partial<SessionRecord>;
      return db.transaction().execute(async (trx) => {
        const columns = encodeFields(SESSION_FIELDS, { ...fields, updatedAt: fields.updatedAt ?? new Date().toISOString() });
        const row = await applyPatch(
          columns,
          () => trx.updateTable('sessions').set(columns).where('id', '=', id).executeTakeFirst(),
          () => trx.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst(),
          () => new HangarError('SESSION_NOT_FOUND', `session ${id} does not exist`),
        );
        if (fields.metadata !== undefined) await writeSessionMetadata(trx, id, fields.metadata);
        return rowToSession(row);
      });
    },
    async get(id) {
      const row = await db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : rowToSession(row);
    },
    async list(query) {
      let select = db.selectFrom('sessions').selectAll('sessions');
      if (query.status !== undefined) select = select.where('status', '=', query.status);
      if (query.pattern !== undefined) select = select.where('pattern', '=', query.pattern);
      if (query.sandboxId !== undefined) select = select.where('sandbox_id', '=', query.sandboxId);
      for (const [key, value] of Object.entries(query.metadata ?? {})) {
        select = select.where((eb) =>
          eb.exists(
            eb
              .selectFrom('session_metadata')
              .select('session_metadata.session_id')
              .whereRef('session_metadata.session_id', '=', 'sessions.id')
              .where('session_metadata.key', '=', key)
              .where('session_metadata.value', '=', value),
          ),
        );
      }
      if (query.before !== undefined) {
        const anchor = await db.selectFrom('sessions').select(['created_at', 'id']).where('id', '=', query.before).executeTakeFirst();
        if (anchor === undefined) throw new HangarError('SESSION_NOT_FOUND', `session ${query.before} (the paging cursor) does not exist`);
        select = select.where((eb) =>
          eb.or([
            eb('sessions.created_at', '<', anchor.created_at),
            eb.and([eb('sessions.created_at', '=', anchor.created_at), eb('sessions.id', '<', anchor.id)]),
          ]),
        );
      }
      const rows = await select.orderBy('sessions.created_at', 'desc').orderBy('sessions.id', 'desc').limit(query.limit).execute();
      return rows.map(rowToSession);
    },
    async listByStatus(statuses) {
      if (statuses.length === 0) return [];
      const rows = await db.selectFrom('sessions').selectAll().where('status', 'in', statuses).orderBy('created_at').orderBy('id').execute();
      return rows.map(rowToSession);
    },
  };
}

// ---- message queue ----

function rowToMessage(row: Selectable<SessionMessagesTable>): QueuedMessage {
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

const MESSAGE_PATCH_FIELDS: FieldEncoders<Pick<QueuedMessage, 'status' | 'error' | 'startedAt' | 'finishedAt'>, SessionMessagesTable> = {
  status: (value) => ({ status: value }),
  error: (value) => ({ error_json: jsonOrNull(value) }),
  startedAt: (value) => ({ started_at: value }),
  finishedAt: (value) => ({ finished_at: value }),
};

function createMessageQueueRepository(db: Kysely<StoreDatabase>): MessageQueueRepository {
  return {
    async enqueue(message) {
      return insertOrConflict(`message ${message.id}`, () =>
        db.transaction().execute(async (trx) => {
          const seq = await advanceSequence(trx, 'messages', message.sessionId, 1);
          const queued = newQueuedMessage(message, seq);
          await trx
            .insertInto('session_messages')
            .values({
              id: queued.id,
              session_id: queued.sessionId,
              seq,
              prompt: queued.prompt,
              source: queued.source,
              status: queued.status,
              error_json: null,
              created_at: queued.createdAt,
              started_at: null,
              finished_at: null,
            })
            .execute();
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
      const columns = encodeFields(MESSAGE_PATCH_FIELDS, patch);
      const row = await db.transaction().execute((trx) =>
        applyPatch(
          columns,
          () => trx.updateTable('session_messages').set(columns).where('id', '=', id).executeTakeFirst(),
          () => trx.selectFrom('session_messages').selectAll().where('id', '=', id).executeTakeFirst(),
          () => new HangarError('NOT_FOUND', `message ${id} does not exist`),
        ),
      );
      return rowToMessage(row);
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
        .set({ status: 'interrupted', error_json: json(reason), finished_at: new Date().toISOString() })
        .where('status', '=', 'running')
        .returningAll()
        .execute();
      return rows.map(rowToMessage).sort((a, b) => (a.sessionId === b.sessionId ? a.seq - b.seq : a.sessionId < b.sessionId ? -1 : 1));
    },
  };
}

// ---- event log ----

function rowToEvent(row: Selectable<SessionEventsTable>): SessionEvent {
  return { sessionId: row.session_id, seq: Number(row.seq), type: row.type, data: parse(row.data_json), createdAt: row.created_at };
}

function createEventLogRepository(db: Kysely<StoreDatabase>): EventLogRepository {
  return {
    async append(sessionId, events) {
      if (events.length === 0) return [];
      return db.transaction().execute(async (trx) => {
        const last = await advanceSequence(trx, 'events', sessionId, events.length);
        const createdAt = new Date().toISOString();
        const rows = events.map((event, index) => ({
          session_id: sessionId,
          seq: last - events.length + 1 + index,
          type: event.type,
          data_json: json(event.data),
          created_at: createdAt,
        }));
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
      const row = await db
        .selectFrom('sequences')
        .select('last_value')
        .where('kind', '=', 'events')
        .where('owner_id', '=', sessionId)
        .executeTakeFirst();
      return row === undefined ? 0 : Number(row.last_value);
    },
  };
}

// ---- checkpoints ----

function rowToCheckpoint(row: Selectable<CheckpointsTable>): CheckpointRecord {
  return {
    id: row.id,
    sessionId: row.session_id,
    turn: Number(row.turn),
    blobKey: row.blob_key,
    sizeBytes: Number(row.size_bytes),
    agentSessionId: row.agent_session_id,
    transcriptEntries: Number(row.transcript_entries),
    manifest: parseOrNull<CheckpointManifest>(row.manifest_json),
    createdAt: row.created_at,
  };
}

function createCheckpointRepository(db: Kysely<StoreDatabase>): CheckpointRepository {
  return {
    async insert(checkpoint) {
      await insertOrConflict(`checkpoint ${checkpoint.id}`, () =>
        db
          .insertInto('checkpoints')
          .values({
            id: checkpoint.id,
            session_id: checkpoint.sessionId,
            turn: checkpoint.turn,
            blob_key: checkpoint.blobKey,
            size_bytes: checkpoint.sizeBytes,
            agent_session_id: checkpoint.agentSessionId,
            transcript_entries: checkpoint.transcriptEntries,
            manifest_json: jsonOrNull(checkpoint.manifest),
            created_at: checkpoint.createdAt,
          })
          .execute(),
      );
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

// ---- transcripts ----

/** The stored form of a key: '' stands for the main transcript. */
function keyColumns(key: TranscriptKey): { project_key: string; session_id: string; subpath: string } {
  return { project_key: key.projectKey, session_id: key.sessionId, subpath: key.subpath ?? '' };
}

function createTranscriptRepository(db: Kysely<StoreDatabase>): TranscriptRepository {
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
        const rows = fresh.map((entry, index) => ({
          ...columns,
          position: first + index,
          uuid: typeof entry.uuid === 'string' ? entry.uuid : null,
          entry_json: JSON.stringify(entry),
          created_at: createdAt,
        }));
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
      return rows.map((row) => parse<TranscriptEntry>(row.entry_json));
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

// ---- schedules ----

const SCHEDULE_FIELDS: FieldEncoders<ScheduleRecord, SchedulesTable> = {
  id: (value) => ({ id: value }),
  sessionId: (value) => ({ session_id: value }),
  every: (value) => ({ every: value }),
  cron: (value) => ({ cron: value }),
  prompt: (value) => ({ prompt: value }),
  enabled: (value) => ({ enabled: value ? 1 : 0 }),
  nextRunAt: (value) => ({ next_run_at: value }),
  lastRunAt: (value) => ({ last_run_at: value }),
  createdAt: (value) => ({ created_at: value }),
};

function rowToSchedule(row: Selectable<SchedulesTable>): ScheduleRecord {
  return {
    id: row.id,
    sessionId: row.session_id,
    every: row.every,
    cron: row.cron,
    prompt: row.prompt,
    enabled: Number(row.enabled) === 1,
    nextRunAt: row.next_run_at,
    lastRunAt: row.last_run_at,
    createdAt: row.created_at,
  };
}

function createScheduleRepository(db: Kysely<StoreDatabase>): ScheduleRepository {
  return {
    async insert(schedule) {
      await insertOrConflict(`schedule ${schedule.id}`, () =>
        db.insertInto('schedules').values(encodeFields(SCHEDULE_FIELDS, schedule) as SchedulesTable).execute(),
      );
    },
    async update(id, patch) {
      const { id: _id, sessionId: _sessionId, createdAt: _createdAt, ...fields } = patch as Partial<ScheduleRecord>;
      const columns = encodeFields(SCHEDULE_FIELDS, fields);
      const row = await db.transaction().execute((trx) =>
        applyPatch(
          columns,
          () => trx.updateTable('schedules').set(columns).where('id', '=', id).executeTakeFirst(),
          () => trx.selectFrom('schedules').selectAll().where('id', '=', id).executeTakeFirst(),
          () => new HangarError('SCHEDULE_NOT_FOUND', `schedule ${id} does not exist`),
        ),
      );
      return rowToSchedule(row);
    },
    async get(id) {
      const row = await db.selectFrom('schedules').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : rowToSchedule(row);
    },
    async list(sessionId) {
      const rows = await db.selectFrom('schedules').selectAll().where('session_id', '=', sessionId).orderBy('created_at').orderBy('id').execute();
      return rows.map(rowToSchedule);
    },
    async due(now, limit) {
      const rows = await db
        .selectFrom('schedules')
        .selectAll()
        .where('enabled', '=', 1)
        .where('next_run_at', '<=', now)
        .orderBy('next_run_at')
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map(rowToSchedule);
    },
    async delete(id) {
      await db.deleteFrom('schedules').where('id', '=', id).execute();
    },
  };
}

// ---- shared sandboxes ----

function rowToSharedSandbox(row: Selectable<SharedSandboxesTable>): SharedSandboxRecord {
  return {
    id: row.id,
    status: row.status as SharedSandboxRecord['status'],
    resources: parse(row.resources_json),
    createdAt: row.created_at,
    closedAt: row.closed_at,
  };
}

function createSharedSandboxRepository(db: Kysely<StoreDatabase>): SharedSandboxRepository {
  return {
    async insert(sandbox) {
      await insertOrConflict(`sandbox ${sandbox.id}`, () =>
        db
          .insertInto('shared_sandboxes')
          .values({ id: sandbox.id, status: sandbox.status, resources_json: json(sandbox.resources), created_at: sandbox.createdAt, closed_at: sandbox.closedAt })
          .execute(),
      );
    },
    async update(id, patch) {
      const columns: Partial<SharedSandboxesTable> = {};
      if (patch.status !== undefined) columns.status = patch.status;
      if (patch.closedAt !== undefined) columns.closed_at = patch.closedAt;
      const row = await db.transaction().execute((trx) =>
        applyPatch(
          columns,
          () => trx.updateTable('shared_sandboxes').set(columns).where('id', '=', id).executeTakeFirst(),
          () => trx.selectFrom('shared_sandboxes').selectAll().where('id', '=', id).executeTakeFirst(),
          () => new HangarError('SANDBOX_NOT_FOUND', `sandbox ${id} does not exist`),
        ),
      );
      return rowToSharedSandbox(row);
    },
    async get(id) {
      const row = await db.selectFrom('shared_sandboxes').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : rowToSharedSandbox(row);
    },
    async list(status) {
      let select = db.selectFrom('shared_sandboxes').selectAll();
      if (status !== undefined) select = select.where('status', '=', status);
      const rows = await select.orderBy('created_at').orderBy('id').execute();
      return rows.map(rowToSharedSandbox);
    },
  };
}

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
    async close() {
      await db.destroy();
    },
  };
}
