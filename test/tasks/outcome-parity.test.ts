// One meaning per outcome: the same SDK result ends a task and a session turn with the same code
// (runner/map-sdk-result.ts), through the task service and the session manager on the fake agent
// launcher. A budget overrun (error_max_budget_usd) is BUDGET_EXCEEDED in both, the turn limit
// (error_max_turns) MAX_TURNS, a failed execution AGENT_FAILED.
import type { SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { createFakeAgentLauncher, type FakeAgentStep } from '../../src/runner/fake-agent-launcher.js';
import { createInMemorySandboxProvider } from '../../src/sandbox/providers/in-memory.js';
import { createManualClock } from '../../src/sessions/clock.js';
import { createInMemoryStore } from '../../src/store/in-memory/index.js';
import { createTaskService } from '../../src/tasks/task-service.js';
import { createFakeGateway } from '../helpers/fake-gateway.js';
import { sessionHarness, shutdownSessionHarnesses, type SessionHarness } from '../sessions/session-harness.js';

const OVERRUN: FakeAgentStep = {
  subtype: 'error_max_budget_usd',
  errors: ['reached the budget of $0.5'],
  usage: { inputTokens: 200_000 },
  model: 'claude-sonnet-4-5',
};

/** A task run on fakes with this step; resolves with its final record and what the agent was given. */
async function runTask(step: FakeAgentStep, input: { maxBudgetUsd?: number; maxTurns?: number } = {}) {
  const gateway = createFakeGateway();
  const launcher = createFakeAgentLauncher({ script: () => step, onUsage: (token, model, usage) => gateway.meter(token, model, usage) });
  const store = createInMemoryStore();
  const tasks = createTaskService({
    config: parseConfig({}),
    store,
    sandboxProvider: createInMemorySandboxProvider(),
    gateway,
    launcher,
    claudeExecutable: '/opt/claude/claude',
    logger: pino({ level: 'silent' }),
    clock: createManualClock(),
  });
  const task = await tasks.run({ prompt: 'spend', ...input });
  return { task, launched: launcher.calls[0]?.options };
}

/** The error of a session turn that played this step. */
async function runTurn(harness: SessionHarness, input: { maxBudgetUsd?: number; maxTurns?: number } = {}) {
  const session = await harness.manager.create({ pattern: 'long-running', prompt: 'spend', ...input });
  await harness.waitForTurns(session.id, 1);
  const [message] = await harness.manager.messages(session.id, 1);
  const completed = (await harness.events(session.id)).find((event) => event.type === 'turn_completed');
  return {
    message: message!,
    eventError: (completed?.data as { error: { code: string } | null }).error,
    session: await harness.manager.get(session.id),
    launched: harness.launcher.calls[0]?.options,
  };
}

describe('one outcome code per SDK result, for tasks and sessions', () => {
  afterEach(shutdownSessionHarnesses);

  it('a budget overrun is BUDGET_EXCEEDED through a task and through a session', async () => {
    const { task, launched: taskLaunch } = await runTask(OVERRUN, { maxBudgetUsd: 0.5 });
    const harness = await sessionHarness({ script: () => OVERRUN });
    const turn = await runTurn(harness, { maxBudgetUsd: 0.5 });

    expect(task).toMatchObject({ status: 'failed', error: { code: 'BUDGET_EXCEEDED', message: 'error max budget usd: reached the budget of $0.5' } });
    expect(turn.message).toMatchObject({ status: 'failed', error: { code: 'BUDGET_EXCEEDED', message: 'error max budget usd: reached the budget of $0.5' } });
    expect(turn.eventError?.code).toBe('BUDGET_EXCEEDED');
    // Both handed the budget to the agent, and both counted the metered spend ($0.60).
    expect(taskLaunch?.maxBudgetUsd).toBe(0.5);
    expect(turn.launched?.maxBudgetUsd).toBe(0.5);
    expect(task.costUsd).toBeCloseTo(0.6, 6);
    expect(turn.session.costUsd).toBeCloseTo(0.6, 6);
  });

  it.each([
    ['error_max_turns', 'MAX_TURNS'],
    ['error_during_execution', 'AGENT_FAILED'],
  ] as const)('%s is %s through a task and through a session', async (subtype: SDKResultMessage['subtype'], code) => {
    const step: FakeAgentStep = { subtype, errors: ['stopped'] };
    const { task } = await runTask(step, { maxTurns: 3 });
    const harness = await sessionHarness({ script: () => step });
    const turn = await runTurn(harness, { maxTurns: 3 });
    expect(task.error).toEqual(turn.message.error);
    expect(task.error?.code).toBe(code);
  });
});
