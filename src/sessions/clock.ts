// The Clock port: the time and timers the session manager and the task service use, injected so
// their state machines (idle timers, schedules, drain deadlines) run under a manual clock in tests.
// systemClock is the real one; createManualClock() moves only when a test advances it.

/** An opaque pending timer. */
export interface TimerHandle {
  readonly timer: unknown;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Calls back once after ms. A system timer keeps the process alive only with keepAlive (a deadline
   * that work in progress waits for); background timers (idle, schedules, sweeps) never do.
   */
  setTimeout(callback: () => void, ms: number, options?: { keepAlive?: boolean }): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
  /** Resolves after ms (never keeping the process alive). */
  sleep(ms: number): Promise<void>;
}

/** The clock's time as an ISO 8601 string (what records store). */
export function isoNow(clock: Clock): string {
  return new Date(clock.now()).toISOString();
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms, options) {
    const timer = setTimeout(callback, ms);
    if (options?.keepAlive !== true) timer.unref();
    return { timer };
  },
  clearTimeout(handle) {
    if (handle !== undefined) clearTimeout(handle.timer as NodeJS.Timeout);
  },
  sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms).unref());
  },
};

export interface ManualClock extends Clock {
  /**
   * Moves the time forward by ms, firing every timer that comes due on the way, in order, each at
   * its own time; after each, lets the work it started run until it waits on something else.
   */
  advance(ms: number): Promise<void>;
  /** Timers set and not yet fired or cleared. */
  readonly pendingTimers: number;
}

/** Lets pending promise callbacks and immediates run (several rounds, for chains of awaits). */
async function settle(): Promise<void> {
  for (let round = 0; round < 20; round += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A clock that stands still until advance(); starts at startMs (default 2026-01-01T00:00:00Z). */
export function createManualClock(startMs = Date.UTC(2026, 0, 1)): ManualClock {
  let now = startMs;
  let nextId = 0;
  const timers = new Map<number, { due: number; callback: () => void }>();
  const clock: ManualClock = {
    now: () => now,
    setTimeout(callback, ms) {
      const id = nextId++;
      timers.set(id, { due: now + Math.max(0, ms), callback });
      return { timer: id };
    },
    clearTimeout(handle) {
      if (handle !== undefined) timers.delete(handle.timer as number);
    },
    sleep(ms) {
      return new Promise((resolve) => clock.setTimeout(resolve, ms));
    },
    async advance(ms) {
      const target = now + ms;
      await settle();
      for (;;) {
        let nextTimer: [number, { due: number; callback: () => void }] | undefined;
        for (const entry of timers) {
          if (entry[1].due <= target && (nextTimer === undefined || entry[1].due < nextTimer[1].due)) nextTimer = entry;
        }
        if (nextTimer === undefined) break;
        const [id, { due, callback }] = nextTimer;
        timers.delete(id);
        now = Math.max(now, due);
        callback();
        await settle();
      }
      now = target;
      await settle();
    },
    get pendingTimers() {
      return timers.size;
    },
  };
  return clock;
}
