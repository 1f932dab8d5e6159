// The manual clock (clock.ts) the session tests run on: time moves only with advance(), timers
// fire in due order each at its own time, cleared ones never, and sleep() resolves when its time comes.
import { describe, expect, it } from 'vitest';
import { createManualClock, isoNow } from '../../src/sessions/clock.js';

describe('manual clock', () => {
  it('fires due timers in order, each at its own time, and only those', async () => {
    const clock = createManualClock(Date.UTC(2026, 0, 1));
    const fired: Array<[string, number]> = [];
    clock.setTimeout(() => fired.push(['late', clock.now()]), 3_000);
    clock.setTimeout(() => fired.push(['early', clock.now()]), 1_000);
    const cleared = clock.setTimeout(() => fired.push(['cleared', clock.now()]), 2_000);
    clock.clearTimeout(cleared);
    // A timer set by a callback fires within the same advance when it falls due.
    clock.setTimeout(() => clock.setTimeout(() => fired.push(['chained', clock.now()]), 500), 1_500);
    await clock.advance(2_500);
    const start = Date.UTC(2026, 0, 1);
    expect(fired).toEqual([
      ['early', start + 1_000],
      ['chained', start + 2_000],
    ]);
    expect(clock.now()).toBe(start + 2_500);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(500);
    expect(fired.at(-1)).toEqual(['late', start + 3_000]);
    expect(isoNow(clock)).toBe('2026-01-01T00:00:03.000Z');
  });

  it('resolves sleep() once its time has come', async () => {
    const clock = createManualClock();
    let woke = false;
    void clock.sleep(1_000).then(() => {
      woke = true;
    });
    await clock.advance(999);
    expect(woke).toBe(false);
    await clock.advance(1);
    expect(woke).toBe(true);
  });
});
