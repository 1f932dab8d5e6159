// Migration 0008-secrets: secrets declared by tasks and sessions (and, next, tenants), kept sealed.
import type { Kysely, Migration } from 'kysely';

export const secrets: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('secrets')
      .addColumn('owner_kind', 'text', (column) => column.notNull())
      .addColumn('owner_id', 'text', (column) => column.notNull())
      .addColumn('name', 'text', (column) => column.notNull())
      .addColumn('sealed', 'blob', (column) => column.notNull())
      .addColumn('created_at', 'text', (column) => column.notNull())
      .addPrimaryKeyConstraint('secrets_pk', ['owner_kind', 'owner_id', 'name'])
      .execute();
  },
};
