// The ceiling of live sandboxes (sandbox.maxLive) end to end: with every slot taken, requests that
// need a new sandbox answer 429 CAPACITY_EXCEEDED with Retry-After and Hangar's error body, and work
// again once a sandbox is freed. Requests that need no sandbox still succeed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHarness, type Harness } from '../helpers/hangar-harness.js';

const say = (text: string) => ({ content: [{ type: 'text' as const, text }] });

describe('live sandbox ceiling', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ scenario: { replies: [] }, config: { sandbox: { maxLive: 1, warmPoolSize: 0 } } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  const post = async (pathname: string, body: unknown) => {
    const response = await fetch(new URL(pathname, harness.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      contentType: response.headers.get('content-type'),
      body: JSON.parse(text) as unknown,
    };
  };
  const expectFull = (answer: Awaited<ReturnType<typeof post>>) => {
    expect(answer.status).toBe(429);
    expect(answer.retryAfter).toMatch(/^[1-9]\d*$/);
    expect(answer.contentType).toContain('application/json');
    expect(answer.body).toEqual({
      error: { code: 'CAPACITY_EXCEEDED', message: expect.stringContaining('sandbox.maxLive'), details: { live: 1, maxLive: 1 } },
    });
  };

  it('answers 429 with Retry-After while the only slot is taken, and serves again once it is free', async () => {
    const shared = await post('/v1/sandboxes', {});
    expect(shared.status).toBe(201);
    const sandboxId = (shared.body as { id: string }).id;

    expectFull(await post('/v1/tasks', { prompt: 'run', allowedTools: ['Bash'] }));
    expectFull(await post('/v1/tasks', { prompt: 'run', allowedTools: ['Bash'], wait: false }));
    expectFull(await post('/v1/tasks', { prompt: 'run', allowedTools: ['Bash'], stream: true }));
    expectFull(await post('/v1/sandboxes', {}));
    expectFull(await post('/v1/sessions', { pattern: 'long-running', prompt: 'hello' }));
    expectFull(await post('/v1/sessions', { pattern: 'hybrid', files: { 'a.txt': 'a' } }));
    // A session that needs no sandbox yet is created; its first message would need one.
    const idle = await post('/v1/sessions', { pattern: 'hybrid' });
    expect(idle.status).toBe(201);
    const sessionId = (idle.body as { id: string }).id;
    expectFull(await post(`/v1/sessions/${sessionId}/messages`, { prompt: 'wake up' }));
    // A session in the shared sandbox uses the sandbox that already holds the slot.
    const member = await post('/v1/sessions', { pattern: 'long-running', sandboxId });
    expect(member.status).toBe(201);
    const { tasks } = await harness.client.call<{ tasks: unknown[] }>('GET', '/v1/tasks');
    expect(tasks).toEqual([]);

    await harness.client.call('DELETE', `/v1/sandboxes/${sandboxId}`);
    expect(harness.hangar.sessionManager.liveCount).toBe(0);
    harness.model.setScenario({ replies: [say('done')] });
    const task = await eventually(
      async () => {
        const answer = await post('/v1/tasks', { prompt: 'run', allowedTools: ['Bash'], maxTurns: 2 });
        return answer.status === 429 ? undefined : answer;
      },
      30_000,
      'a free slot',
    );
    expect(task.status).toBe(200);
    expect(task.body).toMatchObject({ status: 'succeeded', result: 'done' });
  }, 120_000);
});
