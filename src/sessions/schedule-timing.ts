// When a schedule fires next: fixed intervals ("30s", "5m", "2h", "1d") or five-field cron
// expressions (croner).
import { Cron } from 'croner';
import { HangarError } from '../errors/errors.js';

const INTERVAL_PATTERN = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** Shortest interval accepted; shorter ones would keep a session permanently busy. */
export const MINIMUM_INTERVAL_MS = 1_000;

/** Milliseconds of an interval like "5m"; throws VALIDATION_FAILED on anything else. */
export function parseInterval(every: string): number {
  const match = INTERVAL_PATTERN.exec(every.trim());
  if (match === null) throw new HangarError('VALIDATION_FAILED', `every "${every}" must be a number and a unit s, m, h or d (e.g. "30s", "5m")`);
  const milliseconds = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (milliseconds < MINIMUM_INTERVAL_MS) throw new HangarError('VALIDATION_FAILED', `every "${every}" is shorter than the minimum of 1s`);
  return milliseconds;
}

/** Checks a cron expression; throws VALIDATION_FAILED naming the problem. */
export function validateCron(expression: string): void {
  try {
    new Cron(expression, { paused: true });
  } catch (error) {
    throw new HangarError('VALIDATION_FAILED', `cron "${expression}" is not valid: ${(error as Error).message}`);
  }
}

/** The next time the schedule fires after `from`. */
export function nextRunAfter(schedule: { every: string | null; cron: string | null }, from: Date): Date {
  if (schedule.every !== null) return new Date(from.getTime() + parseInterval(schedule.every));
  if (schedule.cron !== null) {
    const next = new Cron(schedule.cron, { paused: true }).nextRun(from);
    if (next === null) throw new HangarError('VALIDATION_FAILED', `cron "${schedule.cron}" never fires again`);
    return next;
  }
  throw new HangarError('VALIDATION_FAILED', 'a schedule needs every or cron');
}
