// Tasks: one row per task, its JSON fields in *_json columns.
import type { Kysely } from 'kysely';
import { HangarError } from '../../errors/errors.js';
import type { TaskRecord, TaskRepository } from '../store.js';
import type { StoreDatabase, TasksTable } from './schema.js';
import { insertOrConflict, isoNow, json, jsonOrNull, parse, parseOrNull, patchRecord, type RowMapping } from './sql-helpers.js';

function rowToTask(row: TasksTable): TaskRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    status: row.status as TaskRecord['status'],
    prompt: row.prompt,
    options: parse(row.options_json),
    createdAt: row.created_at,
    finishedAt: row.finished_at,
    durationMs: row.duration_ms === null ? null : Number(row.duration_ms),
    result: row.result,
    error: parseOrNull(row.error_json),
    numTurns: row.num_turns === null ? null : Number(row.num_turns),
    agentSessionId: row.agent_session_id,
    usage: parse(row.usage_json),
    usageByModel: parse(row.usage_by_model_json),
    costUsd: Number(row.cost_usd),
    files: parse(row.files_json),
    sandboxReport: parseOrNull(row.sandbox_report_json),
  };
}

function taskToRow(task: TaskRecord): TasksTable {
  return {
    id: task.id,
    tenant_id: task.tenantId,
    status: task.status,
    prompt: task.prompt,
    options_json: json(task.options),
    created_at: task.createdAt,
    finished_at: task.finishedAt,
    duration_ms: task.durationMs,
    result: task.result,
    error_json: jsonOrNull(task.error),
    num_turns: task.numTurns,
    agent_session_id: task.agentSessionId,
    usage_json: json(task.usage),
    usage_by_model_json: json(task.usageByModel),
    cost_usd: task.costUsd,
    files_json: json(task.files),
    sandbox_report_json: jsonOrNull(task.sandboxReport),
  };
}

const TASKS: RowMapping<'tasks', TaskRecord> = { table: 'tasks', toRecord: rowToTask, toRow: taskToRow };

export function createTaskRepository(db: Kysely<StoreDatabase>): TaskRepository {
  return {
    async insert(task) {
      await insertOrConflict(`task ${task.id}`, () => db.insertInto('tasks').values(taskToRow(task)).execute());
    },
    async update(id, patch) {
      return patchRecord(db, TASKS, id, patch, {
        fixed: ['id', 'tenantId', 'createdAt'],
        missing: () => new HangarError('TASK_NOT_FOUND', `task ${id} does not exist`),
      });
    },
    async get(id) {
      const row = await db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : rowToTask(row);
    },
    async list(query) {
      let select = db.selectFrom('tasks').selectAll();
      if (query.tenantId !== undefined) select = select.where('tenant_id', '=', query.tenantId);
      if (query.status !== undefined) select = select.where('status', '=', query.status);
      if (query.before !== undefined) {
        let anchorQuery = db.selectFrom('tasks').select(['created_at', 'id']).where('id', '=', query.before);
        if (query.tenantId !== undefined) anchorQuery = anchorQuery.where('tenant_id', '=', query.tenantId);
        const anchor = await anchorQuery.executeTakeFirst();
        if (anchor === undefined) throw new HangarError('TASK_NOT_FOUND', `task ${query.before} (the paging cursor) does not exist`);
        select = select.where((eb) =>
          eb.or([eb('created_at', '<', anchor.created_at), eb.and([eb('created_at', '=', anchor.created_at), eb('id', '<', anchor.id)])]),
        );
      }
      const rows = await select.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(query.limit).execute();
      return rows.map(rowToTask);
    },
    async interruptRunning(reason) {
      const result = await db
        .updateTable('tasks')
        .set({ status: 'interrupted', error_json: json(reason), finished_at: isoNow() })
        .where('status', '=', 'running')
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
  };
}
