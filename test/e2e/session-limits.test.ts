// Session limits and control end to end: interrupt, budget, context-window warning.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HangarApiError, type SessionEventView } from '../../src/client/hangar-client.js';
import { eventually, startHarness, type Harness } from '../helpers/hangar-harness.js';

const say = (text: string, extra: Record<string, unknown> = {}) => ({ ...extra, content: [{ type: 'text' as const, text }] });

async function idleAfter(harness: Harness, sessionId: string, turns: number) {
  return eventually(
    async () => {
      const session = await harness.client.getSession(sessionId);
      return session.turns >= turns && session.status === 'idle' ? session : undefined;
    },
    60_000,
    `turn ${turns} of ${sessionId}`,
  );
}

describe('session limits and control', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ scenario: { replies: [] } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('interrupts a running turn on request; the session takes the next message', async () => {
    harness.model.setScenario({
      replies: [say('too slow', { match: { lastUserText: 'slow' }, delayMs: 20_000 }), say('quick answer', { match: { lastUserText: 'quick' } })],
    });
    const session = await harness.client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], prompt: 'slow', idleTimeoutSec: 600 });
    await eventually(() => (harness.model.requests.some((request) => request.kind === 'main') ? true : undefined), 30_000, 'the slow call');
    const started = Date.now();
    expect(await harness.client.call('POST', `/v1/sessions/${session.id}/interrupt`)).toEqual({ interrupted: true });
    await eventually(
      async () => ((await harness.client.listMessages(session.id))[0]?.status === 'interrupted' ? true : undefined),
      15_000,
      'the interrupted turn',
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    await harness.client.sendMessage(session.id, 'quick');
    await eventually(async () => ((await harness.client.listMessages(session.id))[1]?.status === 'done' ? true : undefined), 30_000, 'the next turn');
    expect(await harness.client.call('POST', `/v1/sessions/${session.id}/interrupt`)).toEqual({ interrupted: false });
    await harness.client.closeSession(session.id);
  });

  it('stops taking turns once maxBudgetUsd is spent', async () => {
    harness.model.setScenario({ replies: [], whenExhausted: { text: 'spent some tokens' } });
    const session = await harness.client.createSession({
      pattern: 'long-running',
      allowedTools: ['Bash'],
      maxBudgetUsd: 0.001,
      prompt: 'first',
      idleTimeoutSec: 600,
    });
    const afterFirst = await idleAfter(harness, session.id, 1);
    expect(afterFirst.costUsd).toBeGreaterThan(0.001);
    const callsBefore = harness.model.requests.filter((request) => request.kind === 'main').length;
    // Refused when sent (402), not accepted and failed later: nothing is queued.
    const refused = await harness.client.sendMessage(session.id, 'second').then(
      () => undefined,
      (error: unknown) => error as HangarApiError,
    );
    expect(refused).toBeInstanceOf(HangarApiError);
    expect(refused?.status).toBe(402);
    expect(refused?.code).toBe('BUDGET_EXCEEDED');
    expect(await harness.client.listMessages(session.id)).toHaveLength(1);
    expect(harness.model.requests.filter((request) => request.kind === 'main').length).toBe(callsBefore);
    await harness.client.closeSession(session.id);
  });

  it('warns in the event stream when a turn fills more than 80% of the context window, and shows the figure', async () => {
    harness.model.setScenario({ replies: [say('a full context', { usage: { inputTokens: 900_000, cacheReadInputTokens: 20_000, outputTokens: 500 } })] });
    const session = await harness.client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], prompt: 'fill it', idleTimeoutSec: 600 });
    const done = await idleAfter(harness, session.id, 1);
    expect(done.context.tokens).toBe(920_000);
    expect(done.context.window).toBeGreaterThan(0);
    expect(done.context.ratio).toBeGreaterThan(0.8);
    const warnings: SessionEventView[] = [];
    await harness.client.readEvents(session.id, { after: 0, follow: false, onEvent: (event) => void (event.type === 'warning' && warnings.push(event)) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.data).toMatchObject({ code: 'CONTEXT_WINDOW', contextTokens: 920_000 });
    await harness.client.closeSession(session.id);
  });
});
