// Migration 0007-tenants: tenants and their daily model spend; every task, session and shared sandbox
// names its tenant (rows from before tenants belong to the default tenant).
import { sql, type Kysely, type Migration } from 'kysely';

export const tenants: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('tenants')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('name', 'text', (column) => column.notNull())
      .addColumn('policy_json', 'text', (column) => column.notNull())
      .addColumn('created_at', 'text', (column) => column.notNull())
      .addColumn('updated_at', 'text', (column) => column.notNull())
      .execute();
    await db.schema
      .createTable('tenant_daily_usage')
      .addColumn('tenant_id', 'text', (column) => column.notNull())
      .addColumn('day', 'text', (column) => column.notNull())
      .addColumn('requests', 'integer', (column) => column.notNull().defaultTo(sql`0`))
      .addColumn('input_tokens', 'integer', (column) => column.notNull().defaultTo(sql`0`))
      .addColumn('output_tokens', 'integer', (column) => column.notNull().defaultTo(sql`0`))
      .addColumn('cost_usd', 'real', (column) => column.notNull().defaultTo(sql`0`))
      .addPrimaryKeyConstraint('tenant_daily_usage_pk', ['tenant_id', 'day'])
      .execute();
    for (const table of ['tasks', 'sessions', 'shared_sandboxes']) {
      await db.schema
        .alterTable(table)
        .addColumn('tenant_id', 'text', (column) => column.notNull().defaultTo('default'))
        .execute();
      await db.schema.createIndex(`${table}_tenant_created`).on(table).columns(['tenant_id', 'created_at']).execute();
    }
  },
};
