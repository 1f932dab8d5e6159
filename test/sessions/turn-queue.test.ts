// The turn queue (turn-queue.ts) on fakes: messages run in the order they were sent, one turn at a
// time, each recorded done with its own result; a closed session takes no more.
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, sessionHarness, shutdownSessionHarnesses } from './session-harness.js';

describe('turn queue', () => {
  afterEach(shutdownSessionHarnesses);

  it('runs queued messages in the order sent, one turn at a time', async () => {
    const first = deferred();
    const harness = await sessionHarness({
      script: (call) => (call.prompt === 'one' ? { until: first.promise, result: 'answer one' } : { result: `answer ${call.prompt}` }),
    });
    const { manager, launcher } = harness;
    const session = await manager.create({ pattern: 'long-running', prompt: 'one' });
    await manager.send(session.id, 'two');
    await manager.send(session.id, 'three');
    await expect.poll(() => launcher.active).toBe(1);
    // While the first turn runs, the others wait their turn.
    expect(launcher.calls.map((call) => call.prompt)).toEqual(['one']);
    expect((await manager.messages(session.id, 10)).map((message) => [message.prompt, message.status])).toEqual([
      ['one', 'running'],
      ['two', 'queued'],
      ['three', 'queued'],
    ]);
    first.resolve();
    const done = await harness.waitForTurns(session.id, 3);
    expect(launcher.calls.map((call) => call.prompt)).toEqual(['one', 'two', 'three']);
    expect(launcher.maxActive).toBe(1);
    expect(done).toMatchObject({ status: 'idle', turns: 3 });
    expect((await manager.messages(session.id, 10)).map((message) => [message.seq, message.status])).toEqual([
      [1, 'done'],
      [2, 'done'],
      [3, 'done'],
    ]);
    const completed = (await harness.events(session.id))
      .filter((event) => event.type === 'turn_completed')
      .map((event) => (event.data as { result: string }).result);
    expect(completed).toEqual(['answer one', 'answer two', 'answer three']);
    // One live CLI served the three turns.
    expect(launcher.sessionsStarted).toBe(1);
  });

  it('refuses messages to a closed session and fails those still queued when it closes', async () => {
    const hold = deferred();
    const harness = await sessionHarness({ script: () => ({ until: hold.promise }) });
    const { manager } = harness;
    const session = await manager.create({ pattern: 'long-running', prompt: 'first' });
    await manager.send(session.id, 'second');
    await expect.poll(() => harness.launcher.active).toBe(1);
    const closing = manager.close(session.id);
    hold.resolve();
    await closing;
    const messages = await manager.messages(session.id, 10);
    expect(messages.map((message) => [message.prompt, message.status, message.error?.code ?? null])).toEqual([
      ['first', 'done', null],
      ['second', 'failed', 'SESSION_CLOSED'],
    ]);
    await expect(manager.send(session.id, 'third')).rejects.toMatchObject({ code: 'SESSION_CLOSED' });
    expect(harness.provider.sandboxes.size).toBe(0);
    expect(await harness.store.checkpoints.list(session.id, 10)).toEqual([]);
  });
});
