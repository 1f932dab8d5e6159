// SQLite adapter of the Store port (the embedded default): one database file, WAL journal,
// Kysely as the query builder so the same queries run on Postgres later.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Migration, type Selectable } from 'kysely';
import { HangarError } from '../errors/errors.js';
import type { Store, TaskError, TaskListQuery, TaskRecord, TaskRepository } from './store.js';

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

interface StoreDatabase {
  tasks: TasksTable;
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
};

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
      await db.insertInto('tasks').values(taskToRow(task)).execute();
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
    async close() {
      await db.destroy();
    },
  };
}
