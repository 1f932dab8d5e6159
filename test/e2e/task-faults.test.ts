// Model faults, end to end: the gateway retries transient errors (gateway.retry) and tells the real
// CLI not to retry on top once it has, the CLI retries a cut stream, and a model that keeps failing
// ends the task with a clear error instead of hanging.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/hangar-harness.js';

describe('tasks when the model fails', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ scenario: { replies: [] }, config: { agent: { maxRetries: 2 } } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('succeeds after a 529 overloaded answer, retried by the gateway', async () => {
    harness.model.setScenario({
      replies: [{ fault: { status: 529, retryAfterSec: 0 } }, { content: [{ type: 'text', text: 'answered after overload' }] }],
    });
    const task = await harness.client.runTask({ prompt: 'hello', allowedTools: ['Bash'] });
    expect(task.error).toBeNull();
    expect(task).toMatchObject({ status: 'succeeded', result: 'answered after overload' });
    const statuses = harness.model.requests.filter((request) => request.kind === 'main').map((request) => request.status);
    expect(statuses).toEqual([529, 200]);
    expect((task.sandbox as { failedModelRequests: number }).failedModelRequests).toBe(1);
  });

  it('succeeds after a stream cut mid-way', async () => {
    harness.model.setScenario({
      replies: [{ fault: { cutAfterEvents: 2 } }, { content: [{ type: 'text', text: 'answered after a cut' }] }],
    });
    const task = await harness.client.runTask({ prompt: 'hello', allowedTools: ['Bash'] });
    expect(task).toMatchObject({ status: 'succeeded', result: 'answered after a cut' });
  });

  it('fails with a clear error when the model keeps failing', async () => {
    harness.model.setScenario({ replies: [{ fault: { status: 500, retryAfterSec: 0, message: 'upstream exploded' }, times: 50 }] });
    const started = Date.now();
    const task = await harness.client.runTask({ prompt: 'hello', allowedTools: ['Bash'] });
    expect(task.status).toBe('failed');
    expect(task.error?.code).toBe('AGENT_FAILED');
    expect(task.error?.message).toMatch(/500|upstream exploded|API Error/i);
    // Bounded by gateway.retry: the first try and two retries; the CLI, told x-should-retry: false,
    // adds none of its own (without it, 3 x 3 attempts).
    const attempts = harness.model.requests.filter((request) => request.kind === 'main').length;
    expect(attempts).toBe(3);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('stops at maxTurns with a MAX_TURNS error', async () => {
    const loop = { content: [{ type: 'tool_use' as const, name: 'Bash', input: { command: 'echo again' } }], times: 10 };
    harness.model.setScenario({ replies: [loop] });
    const task = await harness.client.runTask({ prompt: 'loop forever', allowedTools: ['Bash'], maxTurns: 2 });
    expect(task.status).toBe('failed');
    expect(task.error?.code).toBe('MAX_TURNS');
    expect(task.numTurns).toBeGreaterThanOrEqual(2);
  });

  it('fails with a clear error when the gateway cannot reach the model at all', async () => {
    await harness.model.close();
    const task = await harness.client.runTask({ prompt: 'hello', allowedTools: ['Bash'] });
    expect(task.status).toBe('failed');
    expect(task.error?.message).toMatch(/502|could not reach|API Error|Connection/i);
  });
});
