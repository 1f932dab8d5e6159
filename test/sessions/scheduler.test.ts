// Schedules (scheduler.ts) on fakes and a manual clock: a schedule sends its prompt when due, never
// while its previous run is still queued or running (that tick is skipped and said so), and a
// schedule stored by one process fires in the next one after a restart.
import { afterEach, describe, expect, it } from 'vitest';
import { policyViolation } from '../../src/tenants/policy-check.js';
import { deferred, sessionHarness, shutdownSessionHarnesses } from './session-harness.js';

describe('scheduler', () => {
  afterEach(shutdownSessionHarnesses);

  it('fires every interval and never overlaps its own previous run', async () => {
    const slow = deferred();
    const harness = await sessionHarness({ script: () => ({ until: slow.promise }) });
    const { manager, clock, launcher } = harness;
    const session = await manager.create({ pattern: 'long-running', idleTimeoutSec: 3600 });
    const schedule = await manager.addSchedule(session.id, { every: '1m', prompt: 'tick' });
    await clock.advance(59_000);
    expect(launcher.calls).toEqual([]);
    await clock.advance(1_500);
    await expect.poll(() => launcher.calls.length).toBe(1);
    expect(launcher.calls[0]).toMatchObject({ prompt: 'tick' });
    expect((await manager.messages(session.id, 10))[0]).toMatchObject({ source: `schedule:${schedule.id}`, status: 'running' });

    // A minute later the first run still holds: this one is skipped, not queued behind it.
    await clock.advance(60_000);
    await expect.poll(async () => (await harness.events(session.id)).filter((event) => event.type === 'schedule_skipped').length).toBe(1);
    expect(await manager.messages(session.id, 10)).toHaveLength(1);

    slow.resolve();
    await harness.waitForTurns(session.id, 1);
    await clock.advance(60_000);
    await expect.poll(() => launcher.calls.length).toBe(2);
    await harness.waitForTurns(session.id, 2);
    expect(launcher.maxActive).toBe(1);
    expect((await manager.schedules(session.id))[0]).toMatchObject({ enabled: true, lastRunAt: expect.any(String) });
  });

  it("skips a run, saying why, while the session's options are beyond its tenant's policy; a fork is refused too", async () => {
    let tightened = true;
    const harness = await sessionHarness({
      policyCheck: async () => {
        if (tightened) throw policyViolation('acme', 'maxTurns', 'maxTurns 20 is over the limit of 5');
      },
    });
    const { manager, clock, launcher } = harness;
    const session = await manager.create({ pattern: 'long-running', idleTimeoutSec: 3600 });
    await manager.addSchedule(session.id, { every: '1m', prompt: 'tick' });
    await clock.advance(61_000);
    await expect
      .poll(async () => (await harness.events(session.id)).find((event) => event.type === 'schedule_skipped')?.data)
      .toMatchObject({ reason: expect.stringContaining('maxTurns') });
    expect(launcher.calls).toEqual([]);
    await expect(manager.send(session.id, 'by hand')).rejects.toMatchObject({ code: 'POLICY_VIOLATION' });
    await expect(manager.fork(session.id, {})).rejects.toMatchObject({ code: 'POLICY_VIOLATION' });
    tightened = false;
    await clock.advance(60_000);
    await expect.poll(() => launcher.calls.length).toBe(1);
    await harness.waitForTurns(session.id, 1);
  });

  it('fires a schedule stored before a restart', async () => {
    let harness = await sessionHarness();
    const session = await harness.manager.create({ pattern: 'long-running', idleTimeoutSec: 3600 });
    await harness.manager.addSchedule(session.id, { every: '5m', prompt: 'after restart' });
    await harness.clock.advance(60_000);
    harness = await harness.restart();
    const { manager, clock, launcher } = harness;
    expect((await manager.get(session.id)).status).toBe('hibernated');
    await clock.advance(4 * 60_000 + 1_000);
    await expect.poll(() => launcher.calls.map((call) => call.prompt)).toEqual(['after restart']);
    await harness.waitForTurns(session.id, 1);
  });

  it('stops a schedule whose session closed, and refuses a bad one', async () => {
    const harness = await sessionHarness();
    const { manager, clock, launcher } = harness;
    const session = await manager.create({ pattern: 'long-running', idleTimeoutSec: 3600 });
    await expect(manager.addSchedule(session.id, { every: '0s', prompt: 'x' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(manager.addSchedule(session.id, { prompt: 'x' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await manager.addSchedule(session.id, { cron: '*/5 * * * *', prompt: 'x' });
    await manager.close(session.id);
    await clock.advance(10 * 60_000);
    expect(launcher.calls).toEqual([]);
    expect((await harness.store.schedules.list(session.id)).map((schedule) => schedule.enabled)).toEqual([false]);
  });
});
