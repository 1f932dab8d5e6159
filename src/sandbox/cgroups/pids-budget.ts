// The parent group's pids ceiling shared out among sandboxes without overcommit: every live
// sandbox (warm ones included) reserves its own pids limit, and the reservations together never
// exceed the ceiling. So a fork bomb fills its own sandbox and never the parent: another sandbox's
// CLI can always start the threads and processes its own limit allows (measured with overcommit:
// one bomb that filled the shared ceiling made the other sandbox's CLI abort with code 134).
import { HangarError } from '../../errors/errors.js';

/** Seconds a client is told to wait before retrying when the pids ceiling is fully reserved. */
const RETRY_AFTER_SEC = 5;

export interface PidsBudget {
  /** Pids reserved by live sandboxes now. */
  readonly reserved: number;
  /**
   * Reserves `pids` for a sandbox, replacing what it held (a resize); fails with CAPACITY_EXCEEDED
   * (429, Retry-After) and changes nothing when the ceiling cannot hold it.
   */
  reserve(id: string, pids: number): void;
  /** Gives a sandbox's reservation back; later calls do nothing. */
  release(id: string): void;
}

/** A budget of `ceiling()` pids; the ceiling is read at each reservation (it is known once the parent group is prepared). */
export function createPidsBudget(ceiling: () => number | undefined): PidsBudget {
  const held = new Map<string, number>();
  let reserved = 0;
  return {
    get reserved() {
      return reserved;
    },
    reserve(id, pids) {
      const limit = ceiling();
      const previous = held.get(id) ?? 0;
      const after = reserved - previous + pids;
      if (limit !== undefined && after > limit) {
        throw new HangarError(
          'CAPACITY_EXCEEDED',
          `no room for a sandbox of ${pids} pids: live sandboxes reserve ${reserved - previous} of the ${limit} pids all sandboxes may use ` +
            '(sandbox.hostLimits.pids); retry in a few seconds, or ask for fewer pids',
          { details: { pids, reserved: reserved - previous, ceiling: limit }, retryAfterSec: RETRY_AFTER_SEC },
        );
      }
      held.set(id, pids);
      reserved = after;
    },
    release(id) {
      const pids = held.get(id);
      if (pids === undefined) return;
      held.delete(id);
      reserved -= pids;
    },
  };
}

/** True for the error reserve() fails with. */
export function isPidsExhausted(error: unknown): boolean {
  return error instanceof HangarError && error.code === 'CAPACITY_EXCEEDED' && (error.details as { ceiling?: unknown } | undefined)?.ceiling !== undefined;
}
