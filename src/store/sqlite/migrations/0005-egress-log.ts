// Migration 0005-egress-log: the egress proxy's decisions per task or session.
import { sql, type Kysely, type Migration } from 'kysely';

export const egressLog: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('egress_log')
      .addColumn('owner_id', 'text', (column) => column.notNull())
      .addColumn('seq', 'integer', (column) => column.notNull())
      .addColumn('at', 'text', (column) => column.notNull())
      .addColumn('method', 'text', (column) => column.notNull())
      .addColumn('host', 'text', (column) => column.notNull())
      .addColumn('port', 'integer', (column) => column.notNull())
      .addColumn('verdict', 'text', (column) => column.notNull())
      .addColumn('reason', 'text', (column) => column.notNull())
      .addColumn('address', 'text')
      .addColumn('bytes_out', 'integer', (column) => column.notNull().defaultTo(sql`0`))
      .addColumn('bytes_in', 'integer', (column) => column.notNull().defaultTo(sql`0`))
      .addColumn('duration_ms', 'integer', (column) => column.notNull().defaultTo(sql`0`))
      .addPrimaryKeyConstraint('egress_log_pk', ['owner_id', 'seq'])
      .execute();
  },
};
