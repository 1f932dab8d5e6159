// Schedules: one row per schedule; `enabled` is 1 or 0.
import type { Kysely } from 'kysely';
import { HangarError } from '../../errors/errors.js';
import type { ScheduleRecord, ScheduleRepository } from '../store.js';
import type { SchedulesTable, StoreDatabase } from './schema.js';
import { insertOrConflict, patchRecord, type RowMapping } from './sql-helpers.js';

function rowToSchedule(row: SchedulesTable): ScheduleRecord {
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

function scheduleToRow(schedule: ScheduleRecord): SchedulesTable {
  return {
    id: schedule.id,
    session_id: schedule.sessionId,
    every: schedule.every,
    cron: schedule.cron,
    prompt: schedule.prompt,
    enabled: schedule.enabled ? 1 : 0,
    next_run_at: schedule.nextRunAt,
    last_run_at: schedule.lastRunAt,
    created_at: schedule.createdAt,
  };
}

const SCHEDULES: RowMapping<'schedules', ScheduleRecord> = { table: 'schedules', toRecord: rowToSchedule, toRow: scheduleToRow };

export function createScheduleRepository(db: Kysely<StoreDatabase>): ScheduleRepository {
  return {
    async insert(schedule) {
      await insertOrConflict(`schedule ${schedule.id}`, () => db.insertInto('schedules').values(scheduleToRow(schedule)).execute());
    },
    async update(id, patch) {
      return patchRecord(db, SCHEDULES, id, patch, {
        fixed: ['id', 'sessionId', 'createdAt'],
        missing: () => new HangarError('SCHEDULE_NOT_FOUND', `schedule ${id} does not exist`),
      });
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
