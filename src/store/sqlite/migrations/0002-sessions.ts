// Migration 0002-sessions: sessions and what belongs to them (metadata, message queue, event log, sequence
// counters, checkpoints, transcripts, schedules) and shared sandboxes.
import type { Kysely, Migration } from 'kysely';

export const sessions: Migration = {
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
};
