// Recovery at start (recovery.ts) on fakes: a turn cut off by a crash is recorded interrupted and
// the session continues from its last checkpoint, with the conversation resumed from exactly the
// checkpoint's transcript position (what the cut-off turn wrote after it is left behind); a turn
// whose checkpoint was recorded before the crash is recorded done; queued messages run again.
import { afterEach, describe, expect, it } from 'vitest';
import type { FakeAgentStep } from '../../src/runner/fake-agent-launcher.js';
import { sessionHarness, shutdownSessionHarnesses } from './session-harness.js';

describe('recovery', () => {
  afterEach(shutdownSessionHarnesses);

  it('interrupts a turn cut off by a crash and continues from the checkpoint before it', async () => {
    const never = new Promise<void>(() => undefined);
    let harness = await sessionHarness({
      script: (call): FakeAgentStep =>
        call.prompt === 'cut off' ? { until: never, files: { 'half.txt': 'never checkpointed' } } : { files: { 'a.txt': 'one' } },
    });
    const session = await harness.manager.create({ pattern: 'long-running', prompt: 'first' });
    const first = await harness.waitForTurns(session.id, 1);
    const checkpoint = await harness.store.checkpoints.get(first.lastCheckpointId!);
    expect(checkpoint?.transcriptEntries).toBe(2);
    // Recovery tells a cut-off turn from a finished one by time: the next turn starts later.
    await harness.clock.advance(1_000);
    await harness.manager.send(session.id, 'cut off');
    await harness.manager.send(session.id, 'queued behind it');
    await expect.poll(() => harness.launcher.active).toBe(1);

    // The process dies mid-turn: a new one starts over the same store.
    harness = await harness.restart({ crash: true, script: () => ({}) });
    const messages = await harness.manager.messages(session.id, 10);
    expect(messages[1]).toMatchObject({ prompt: 'cut off', status: 'interrupted', error: { code: 'INTERRUPTED' } });
    expect((await harness.events(session.id)).some((event) => event.type === 'turn_interrupted')).toBe(true);

    // The queued message runs in a sandbox restored from the checkpoint, the conversation forked
    // from the checkpoint's transcript position.
    const recovered = await harness.waitForTurns(session.id, 2);
    const resumed = harness.launcher.calls[0]!;
    expect(resumed).toMatchObject({ prompt: 'queued behind it', resumedEntries: 2 });
    expect(resumed.options).toMatchObject({ resume: first.agentSessionId, forkSession: true });
    expect(recovered.agentSessionId).not.toBe(first.agentSessionId);
    const sandbox = harness.provider.sandboxes.get(resumed.sandboxId)!;
    expect(sandbox.files.get('a.txt')?.toString()).toBe('one');
    expect(sandbox.files.has('half.txt')).toBe(false);
  });

  it('records done a turn whose checkpoint was recorded before the crash', async () => {
    let harness = await sessionHarness();
    const session = await harness.manager.create({ pattern: 'long-running', prompt: 'finished' });
    await harness.waitForTurns(session.id, 1);
    const [message] = await harness.manager.messages(session.id, 1);
    // The crash came between the checkpoint and the message's own status.
    await harness.store.messages.update(message!.id, { status: 'running', finishedAt: null });
    harness = await harness.restart({ crash: true });
    expect((await harness.manager.messages(session.id, 1))[0]).toMatchObject({ status: 'done', error: null });
    expect(
      (await harness.events(session.id)).some((event) => event.type === 'turn_completed' && (event.data as { recovered?: boolean }).recovered === true),
    ).toBe(true);
    expect((await harness.manager.get(session.id)).status).toBe('hibernated');
    expect(harness.launcher.calls).toEqual([]);
  });

  it('hibernates sessions left live by a clean shutdown, and runs what they had queued', async () => {
    let harness = await sessionHarness();
    const session = await harness.manager.create({ pattern: 'long-running', prompt: 'one' });
    await harness.waitForTurns(session.id, 1);
    expect(harness.provider.sandboxes.size).toBe(1);
    const next = await harness.restart();
    harness = next;
    expect((await next.manager.get(session.id)).status).toBe('hibernated');
    await next.manager.send(session.id, 'two');
    expect(await next.waitForTurns(session.id, 2)).toMatchObject({ status: 'idle', turns: 2 });
  });
});
