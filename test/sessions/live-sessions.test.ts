// Live sessions and the idle timer (live-sessions.ts) on fakes and a manual clock: a long-running
// session hibernates exactly idleTimeoutSec after its last turn (its sandbox and CLI gone, its
// checkpoint kept), a new turn rearms the timer, and the next message wakes it from the checkpoint
// with the conversation resumed.
import { afterEach, describe, expect, it } from 'vitest';
import { sessionHarness, shutdownSessionHarnesses } from './session-harness.js';

describe('live sessions', () => {
  afterEach(shutdownSessionHarnesses);

  it('hibernates after idleTimeoutSec without a turn, and wakes from its checkpoint on the next message', async () => {
    let seenOnWake: string | undefined;
    const harness = await sessionHarness({
      script: async (call) => {
        if (call.prompt === 'write') return { files: { 'notes.txt': 'kept across hibernation' } };
        seenOnWake = (await call.options.sandbox.readFile('notes.txt')).toString('utf8');
        return {};
      },
    });
    const { manager, clock, provider, launcher } = harness;
    const session = await manager.create({ pattern: 'long-running', prompt: 'write', idleTimeoutSec: 60 });
    const first = await harness.waitForTurns(session.id, 1);
    expect(first.status).toBe('idle');
    expect(provider.sandboxes.size).toBe(1);

    await clock.advance(59_000);
    expect((await manager.get(session.id)).status).toBe('idle');
    await clock.advance(1_000);
    await expect.poll(async () => (await manager.get(session.id)).status).toBe('hibernated');
    expect(provider.sandboxes.size).toBe(0);
    expect(manager.liveCount).toBe(0);
    const hibernated = (await harness.events(session.id)).find((event) => event.type === 'hibernated');
    expect(hibernated?.data).toMatchObject({ checkpointId: first.lastCheckpointId });

    await manager.send(session.id, 'read');
    const woken = await harness.waitForTurns(session.id, 2);
    expect(seenOnWake).toBe('kept across hibernation');
    // The second CLI resumed the first conversation (same id, no fork).
    expect(launcher.sessionsStarted).toBe(2);
    expect(launcher.calls[1]?.options).toMatchObject({ resume: first.agentSessionId });
    expect(launcher.calls[1]?.options.forkSession).toBeUndefined();
    expect(woken.agentSessionId).toBe(first.agentSessionId);
    expect((await harness.events(session.id)).some((event) => event.type === 'woke')).toBe(true);
  });

  it('rearms the idle timer on every turn', async () => {
    const harness = await sessionHarness();
    const { manager, clock } = harness;
    const session = await manager.create({ pattern: 'long-running', prompt: 'one', idleTimeoutSec: 60 });
    await harness.waitForTurns(session.id, 1);
    await clock.advance(45_000);
    await manager.send(session.id, 'two');
    await harness.waitForTurns(session.id, 2);
    await clock.advance(45_000);
    // 90 s after the first turn, 45 s after the second: still idle.
    expect((await manager.get(session.id)).status).toBe('idle');
    await clock.advance(15_000);
    await expect.poll(async () => (await manager.get(session.id)).status).toBe('hibernated');
  });

  it('a session created without a message hibernates like an idle one; a hybrid session keeps no sandbox between turns', async () => {
    const harness = await sessionHarness();
    const { manager, clock, provider } = harness;
    const quiet = await manager.create({ pattern: 'long-running', files: { 'a.txt': 'a' }, idleTimeoutSec: 30 });
    expect(provider.sandboxes.size).toBe(1);
    await clock.advance(30_000);
    await expect.poll(async () => (await manager.get(quiet.id)).status).toBe('hibernated');
    expect(provider.sandboxes.size).toBe(0);

    const hybrid = await manager.create({ pattern: 'hybrid', prompt: 'one' });
    await harness.waitForTurns(hybrid.id, 1);
    expect(provider.sandboxes.size).toBe(0);
    await manager.send(hybrid.id, 'two');
    expect(await harness.waitForTurns(hybrid.id, 2)).toMatchObject({ status: 'idle', turns: 2 });
    expect(provider.sandboxes.size).toBe(0);
  });
});
