// Migration 0009-secret-use: a stored secret may keep where its value may go (a tenant's secret,
// whose declaration no task or session record holds), and when it was last replaced.
import { sql, type Kysely, type Migration } from 'kysely';

export const secretUse: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('secrets').addColumn('use_json', 'text').execute();
    await db.schema
      .alterTable('secrets')
      .addColumn('updated_at', 'text', (column) => column.notNull().defaultTo(''))
      .execute();
    await sql`update secrets set updated_at = created_at`.execute(db);
  },
};
