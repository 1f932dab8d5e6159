// Migration 0001-tasks: the tasks table (ephemeral tasks and their results).
import type { Kysely, Migration } from 'kysely';

export const tasks: Migration = {
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
};
