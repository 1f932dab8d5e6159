// A session's lifecycle (lifecycle.ts) on fakes: fork from a checkpoint (its own copy, the
// workspace of that checkpoint, the conversation forked at its transcript position), interrupt of
// the running turn, initial files as checkpoint 0, and sessions in a shared sandbox.
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, sessionHarness, shutdownSessionHarnesses } from './session-harness.js';

describe('session lifecycle', () => {
  afterEach(shutdownSessionHarnesses);

  it('forks from an earlier checkpoint: its workspace, its transcript position, a new conversation', async () => {
    let seenByFork: string | undefined;
    const harness = await sessionHarness({
      script: async (call) => {
        if (call.prompt === 'in the fork') seenByFork = (await call.options.sandbox.readFile('a.txt')).toString('utf8');
        return { files: { 'a.txt': call.prompt } };
      },
    });
    const { manager, launcher } = harness;
    const source = await manager.create({ pattern: 'long-running', prompt: 'one', metadata: { team: 'a' } });
    await manager.send(source.id, 'two');
    const done = await harness.waitForTurns(source.id, 2);
    const taken = await manager.checkpoints(source.id, 10);
    expect(taken.map((checkpoint) => checkpoint.turn).sort()).toEqual([1, 2]);
    const first = taken.find((checkpoint) => checkpoint.turn === 1);

    const fork = await manager.fork(source.id, { checkpointId: first!.id, metadata: { branch: 'b' } });
    expect(fork).toMatchObject({
      status: 'hibernated',
      turns: 1,
      forkedFrom: { sessionId: source.id, checkpointId: first!.id },
      metadata: { team: 'a', branch: 'b' },
      costUsd: 0,
      agentSessionId: null,
    });
    expect(fork.lastCheckpointId).not.toBe(first!.id);
    expect((await harness.events(source.id)).some((event) => event.type === 'forked')).toBe(true);

    await manager.send(fork.id, 'in the fork');
    const forked = await harness.waitForTurns(fork.id, 2);
    expect(seenByFork).toBe('one');
    const call = launcher.calls.at(-1)!;
    expect(call.options).toMatchObject({ resume: done.agentSessionId, forkSession: true });
    // Turn 1's checkpoint holds the first two transcript entries of the source's four.
    expect(call.resumedEntries).toBe(2);
    expect(forked.agentSessionId).not.toBe(done.agentSessionId);
    // The source is untouched and closing it leaves the fork's checkpoints.
    await manager.close(source.id);
    expect(await manager.checkpoints(fork.id, 10)).toHaveLength(2);
    await expect(manager.fork(source.id, {})).rejects.toMatchObject({ code: 'SESSION_CLOSED' });
  });

  it('refuses a fork without a checkpoint or from another session', async () => {
    const harness = await sessionHarness();
    const { manager } = harness;
    const fresh = await manager.create({ pattern: 'hybrid' });
    await expect(manager.fork(fresh.id, {})).rejects.toMatchObject({ code: 'NO_CHECKPOINT' });
    const other = await manager.create({ pattern: 'hybrid', prompt: 'x' });
    const done = await harness.waitForTurns(other.id, 1);
    await expect(manager.fork(fresh.id, { checkpointId: done.lastCheckpointId! })).rejects.toMatchObject({ code: 'CHECKPOINT_NOT_FOUND' });
  });

  it('holds a tenant to its open sessions, forks included, and makes room when one closes', async () => {
    const harness = await sessionHarness({ tenants: { policyOf: async (tenantId) => (tenantId === 'acme' ? { maxOpenSessions: 2 } : {}) } });
    const { manager } = harness;
    const first = await manager.create({ pattern: 'hybrid', prompt: 'x', tenantId: 'acme' });
    await harness.waitForTurns(first.id, 1);
    const fork = await manager.fork(first.id, {});
    expect(fork.tenantId).toBe('acme');
    await expect(manager.create({ pattern: 'hybrid', tenantId: 'acme' })).rejects.toMatchObject({
      code: 'POLICY_VIOLATION',
      details: { limit: 'maxOpenSessions' },
    });
    await expect(manager.fork(first.id, {})).rejects.toMatchObject({ code: 'POLICY_VIOLATION' });
    // Another tenant is not held to it; a closed session makes room.
    await manager.create({ pattern: 'hybrid', tenantId: 'zeta' });
    await manager.close(fork.id);
    expect((await manager.create({ pattern: 'hybrid', tenantId: 'acme' })).tenantId).toBe('acme');
  });

  it('interrupts the running turn; the next message runs as usual', async () => {
    const never = new Promise<void>(() => undefined);
    const harness = await sessionHarness({ script: (call) => (call.prompt === 'long' ? { until: never } : {}) });
    const { manager, launcher } = harness;
    const session = await manager.create({ pattern: 'long-running', prompt: 'long' });
    expect(await manager.interrupt((await manager.create({ pattern: 'hybrid' })).id)).toEqual({ interrupted: false });
    await expect.poll(() => launcher.active).toBe(1);
    expect(await manager.interrupt(session.id)).toEqual({ interrupted: true });
    await harness.waitForTurns(session.id, 1);
    expect(launcher.interrupts).toBe(1);
    expect((await manager.messages(session.id, 1))[0]).toMatchObject({ status: 'interrupted', error: { code: 'INTERRUPTED' } });
    await manager.send(session.id, 'short');
    await harness.waitForTurns(session.id, 2);
    expect((await manager.messages(session.id, 2))[1]).toMatchObject({ status: 'done', error: null });
  });

  it('keeps initial files as checkpoint 0 and runs sessions of a shared sandbox in it', async () => {
    const hold = deferred();
    const harness = await sessionHarness({
      script: (call) => (call.prompt === 'hold' ? { until: hold.promise } : { files: { [`${call.prompt}.txt`]: call.prompt } }),
    });
    const { manager, provider } = harness;
    const own = await manager.create({ pattern: 'long-running', files: { 'README.md': '# hi' } });
    const [zero] = await manager.checkpoints(own.id, 10);
    expect(zero).toMatchObject({ turn: 0 });
    expect(own.lastCheckpointId).toBe(zero!.id);

    const shared = await manager.createSharedSandbox({});
    const a = await manager.create({ pattern: 'long-running', sandboxId: shared.id, prompt: 'alpha' });
    const b = await manager.create({ pattern: 'long-running', sandboxId: shared.id, prompt: 'beta' });
    await harness.waitForTurns(a.id, 1);
    await harness.waitForTurns(b.id, 1);
    const files = provider.sandboxes.get(shared.id)!.files;
    expect([...files.keys()].sort()).toEqual(['alpha.txt', 'beta.txt']);
    expect((await manager.getSharedSandbox(shared.id)).sessions.sort()).toEqual([a.id, b.id].sort());
    await expect(manager.create({ pattern: 'hybrid', sandboxId: shared.id })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });

    // Closing the last session closes the sandbox.
    await manager.close(a.id);
    expect(provider.sandboxes.has(shared.id)).toBe(true);
    await manager.close(b.id);
    expect((await manager.getSharedSandbox(shared.id)).status).toBe('closed');
    expect(provider.sandboxes.has(shared.id)).toBe(false);
    hold.resolve();
  });
});
