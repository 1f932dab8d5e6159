// Session budgets on fakes: maxBudgetUsd reaches the agent's launch options, the gateway-metered
// cost accumulates across turns, and once it reaches the budget the session takes no more messages
// (BUDGET_EXCEEDED, nothing queued) and a message queued before fails with the same code.
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, sessionHarness, shutdownSessionHarnesses } from './session-harness.js';

/** One million input tokens: $3 at the default price of a Sonnet model. */
const MILLION_INPUT = { usage: { inputTokens: 1_000_000 }, model: 'claude-sonnet-4-5' };

describe('session budgets', () => {
  afterEach(shutdownSessionHarnesses);

  it('counts the metered cost of each turn and refuses messages once the budget is spent', async () => {
    const second = deferred();
    const harness = await sessionHarness({
      script: (call) =>
        call.prompt === 'expensive' ? { ...MILLION_INPUT, until: second.promise } : { usage: { inputTokens: 1_000 }, model: 'claude-sonnet-4-5' },
    });
    const { manager, launcher } = harness;
    const session = await manager.create({ pattern: 'long-running', prompt: 'cheap', maxBudgetUsd: 2 });
    const afterCheap = await harness.waitForTurns(session.id, 1);
    expect(afterCheap.costUsd).toBeCloseTo(0.003, 6);
    expect(launcher.calls[0]?.options.maxBudgetUsd).toBe(2);

    await manager.send(session.id, 'expensive');
    await manager.send(session.id, 'queued before the overrun');
    await expect.poll(() => launcher.active).toBe(1);
    second.resolve();
    await harness.waitForTurns(session.id, 2);
    const spent = await manager.get(session.id);
    expect(spent.costUsd).toBeCloseTo(3.003, 6);
    expect(spent.usageByModel['claude-sonnet-4-5']?.inputTokens).toBe(1_001_000);
    const messages = await manager.messages(session.id, 10);
    expect(messages[2]).toMatchObject({ status: 'failed', error: { code: 'BUDGET_EXCEEDED' } });
    await expect(manager.send(session.id, 'one more')).rejects.toMatchObject({ code: 'BUDGET_EXCEEDED', details: { maxBudgetUsd: 2 } });
    expect(await manager.messages(session.id, 10)).toHaveLength(3);
    expect(launcher.calls).toHaveLength(2);
  });

  it('records what a failed turn spent', async () => {
    const harness = await sessionHarness({ script: () => ({ ...MILLION_INPUT, crash: 'the CLI died' }) });
    const { manager } = harness;
    const session = await manager.create({ pattern: 'long-running', prompt: 'x', maxBudgetUsd: 10 });
    await expect.poll(async () => (await manager.messages(session.id, 1))[0]?.status).toBe('failed');
    // The CLI died after its model calls: what they cost is counted all the same.
    await expect.poll(async () => (await manager.get(session.id)).costUsd).toBeCloseTo(3, 6);
    expect((await manager.get(session.id)).turns).toBe(0);
    expect((await manager.messages(session.id, 1))[0]?.error).toMatchObject({ code: 'AGENT_FAILED', message: expect.stringMatching(/the CLI died/) });
  });
});
