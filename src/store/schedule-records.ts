// The Store port's schedules: prompts a session gets on an interval or a cron expression.

export interface ScheduleRecord {
  id: string;
  sessionId: string;
  /** Interval like "30s", "5m", "2h", or null when cron is used. */
  every: string | null;
  /** Five-field cron expression, or null when every is used. */
  cron: string | null;
  prompt: string;
  enabled: boolean;
  nextRunAt: string;
  lastRunAt: string | null;
  createdAt: string;
}

export interface ScheduleRepository {
  /** Fails with CONFLICT when the id is taken. */
  insert(schedule: ScheduleRecord): Promise<void>;
  /** Applies a patch; fails with SCHEDULE_NOT_FOUND when absent. */
  update(id: string, patch: Partial<Omit<ScheduleRecord, 'id' | 'sessionId' | 'createdAt'>>): Promise<ScheduleRecord>;
  get(id: string): Promise<ScheduleRecord | undefined>;
  /** The session's schedules, oldest first. */
  list(sessionId: string): Promise<ScheduleRecord[]>;
  /** Enabled schedules whose nextRunAt <= now, earliest nextRunAt first. */
  due(now: string, limit: number): Promise<ScheduleRecord[]>;
  /** Removes the schedule; a no-op when absent. */
  delete(id: string): Promise<void>;
}
