// Schedules of sessions: a prompt sent every interval or on a cron expression. The scheduler looks
// for due schedules every half second; a schedule whose previous run is still queued or running is
// skipped (never overlapping itself), and so is one whose session is over budget or has no room.
import { HangarError } from '../errors/errors.js';
import { newRecordId } from '../ids.js';
import type { QueuedMessage, ScheduleRecord } from '../store/store.js';
import type { TimerHandle } from './clock.js';
import { nextRunAfter, parseInterval, validateCron } from './schedule-timing.js';
import type { SessionContext } from './session-context.js';

const SCHEDULER_INTERVAL_MS = 500;

export interface Scheduler {
  add(sessionId: string, input: { every?: string; cron?: string; prompt: string }): Promise<ScheduleRecord>;
  list(sessionId: string): Promise<ScheduleRecord[]>;
  remove(sessionId: string, scheduleId: string): Promise<void>;
  /** Sends the prompt of every due schedule (what each tick does). */
  runDue(): Promise<void>;
  /** Ticks every SCHEDULER_INTERVAL_MS until stop(). */
  start(): void;
  stop(): void;
}

export function createScheduler(context: SessionContext, send: (sessionId: string, prompt: string, source: string) => Promise<QueuedMessage>): Scheduler {
  const { store, logger, clock } = context;
  let timer: TimerHandle | undefined;
  let running = false;

  const runDue = async (): Promise<void> => {
    const now = new Date(clock.now());
    const due = await store.schedules.due(now.toISOString(), 50);
    for (const schedule of due) {
      const session = await store.sessions.get(schedule.sessionId);
      const nextRunAt = nextRunAfter(schedule, now).toISOString();
      if (session === undefined || session.status === 'closed' || session.status === 'failed') {
        await store.schedules.update(schedule.id, { enabled: false });
        continue;
      }
      // Never overlap: a run of this schedule still queued or running means this one is skipped.
      const open = await store.messages.list(schedule.sessionId, { statuses: ['queued', 'running'], limit: 100 });
      if (open.some((message) => message.source === `schedule:${schedule.id}`)) {
        await store.schedules.update(schedule.id, { nextRunAt });
        await context.publish(schedule.sessionId, 'schedule_skipped', { scheduleId: schedule.id, reason: 'the previous run has not finished' });
        continue;
      }
      await store.schedules.update(schedule.id, { nextRunAt, lastRunAt: now.toISOString() });
      await send(schedule.sessionId, schedule.prompt, `schedule:${schedule.id}`).catch(async (error: unknown) => {
        if (!(error instanceof HangarError && ['CAPACITY_EXCEEDED', 'BUDGET_EXCEEDED', 'POLICY_VIOLATION'].includes(error.code))) throw error;
        await context.publish(schedule.sessionId, 'schedule_skipped', { scheduleId: schedule.id, reason: error.message });
      });
    }
  };

  // Each tick is armed when the one before has finished, so two never run at once.
  const tick = (): void => {
    runDue()
      .catch((error: unknown) => logger.error({ err: error }, 'scheduler failed'))
      .finally(() => {
        if (running) timer = clock.setTimeout(tick, SCHEDULER_INTERVAL_MS);
      });
  };

  return {
    async add(sessionId, input) {
      const session = await context.requireSession(sessionId);
      if (session.status === 'closed') throw new HangarError('SESSION_CLOSED', `session ${sessionId} is closed`);
      if ((input.every === undefined) === (input.cron === undefined)) throw new HangarError('VALIDATION_FAILED', 'give exactly one of every or cron');
      if (input.every !== undefined) parseInterval(input.every);
      if (input.cron !== undefined) validateCron(input.cron);
      const now = new Date(clock.now());
      const schedule: ScheduleRecord = {
        id: newRecordId('sched'),
        sessionId,
        every: input.every ?? null,
        cron: input.cron ?? null,
        prompt: input.prompt,
        enabled: true,
        nextRunAt: nextRunAfter({ every: input.every ?? null, cron: input.cron ?? null }, now).toISOString(),
        lastRunAt: null,
        createdAt: now.toISOString(),
      };
      await store.schedules.insert(schedule);
      await context.publish(sessionId, 'schedule_added', { scheduleId: schedule.id, every: schedule.every, cron: schedule.cron });
      return schedule;
    },
    async list(sessionId) {
      await context.requireSession(sessionId);
      return store.schedules.list(sessionId);
    },
    async remove(sessionId, scheduleId) {
      const schedule = await store.schedules.get(scheduleId);
      if (schedule === undefined || schedule.sessionId !== sessionId)
        throw new HangarError('SCHEDULE_NOT_FOUND', `schedule ${scheduleId} does not exist on session ${sessionId}`);
      await store.schedules.delete(scheduleId);
    },
    runDue,
    start() {
      running = true;
      timer = clock.setTimeout(tick, SCHEDULER_INTERVAL_MS);
    },
    stop() {
      running = false;
      clock.clearTimeout(timer);
    },
  };
}
