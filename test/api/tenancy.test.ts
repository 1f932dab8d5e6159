// Tenants over HTTP, with real sandboxes and the real CLI: another tenant's tasks, sessions (their
// messages, checkpoints, forks, schedules, events, egress records) and shared sandboxes answer 404
// to every read and write, and are unchanged after; lists and paging cursors keep to the caller's
// tenant; keys and tenants are managed per tenant; a request beyond the tenant's policy gets 403
// naming the limit, with nothing created; the tenant's live-sandbox ceiling answers 429; its own
// request rate applies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestApi, type ApiAnswer } from '../helpers/api-request.js';
import { startHarness, type Harness } from '../helpers/hangar-harness.js';

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('tenants', () => {
  let harness: Harness;
  let operator: string;
  const keys: Record<string, string> = {};
  /** What tenant acme made, which zeta must never reach. */
  const acme = { taskId: '', sessionId: '', checkpointId: '', scheduleId: '', sandboxId: '', keyId: '' };

  const call = (key: string, method: string, route: string, body?: unknown): Promise<ApiAnswer> => requestApi(harness.baseUrl, method, route, { key, body });

  const ok = async (key: string, method: string, route: string, body?: unknown): Promise<Record<string, unknown>> => {
    const answer = await call(key, method, route, body);
    expect(answer.status, `${method} ${route}: ${JSON.stringify(answer.body)}`).toBeLessThan(300);
    return answer.body ?? {};
  };

  const waitForIdle = async (key: string, sessionId: string): Promise<Record<string, unknown>> => {
    for (;;) {
      const session = await ok(key, 'GET', `/v1/sessions/${sessionId}`);
      if (session.status === 'idle' && session.checkpoint !== null) return session;
      if (session.status === 'failed') throw new Error(`session failed: ${JSON.stringify(session.error)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  beforeAll(async () => {
    harness = await startHarness({
      scenario: { replies: [], whenExhausted: { text: 'done' } },
      config: { auth: { mode: 'keys' }, sandbox: { warmPoolSize: 0 } },
    });
    operator = harness.apiKey!;
    await ok(operator, 'POST', '/v1/tenants', { id: 'acme', name: 'Acme' });
    await ok(operator, 'POST', '/v1/tenants', { id: 'zeta' });
    await ok(operator, 'POST', '/v1/tenants', {
      id: 'tiny',
      policy: {
        permissionModes: ['dontAsk'],
        maxTurns: 2,
        allowedTools: ['Bash', 'Read'],
        network: { allowedHosts: ['*.example.com'], presets: ['npm'] },
        maxResources: { memoryMb: 512 },
        maxConcurrentSandboxes: 1,
      },
    });
    for (const tenantId of ['acme', 'zeta', 'tiny']) {
      const made = (await ok(operator, 'POST', '/v1/keys', { name: `${tenantId} admin`, scopes: ['admin'], tenantId })) as {
        token: string;
        key: { id: string };
      };
      keys[tenantId] = made.token;
      if (tenantId === 'acme') acme.keyId = made.key.id;
    }
    const key = keys.acme!;
    const task = await ok(key, 'POST', '/v1/tasks', { prompt: 'say done' });
    acme.taskId = task.id as string;
    const session = await ok(key, 'POST', '/v1/sessions', { pattern: 'hybrid', prompt: 'say done' });
    acme.sessionId = session.id as string;
    acme.checkpointId = ((await waitForIdle(key, acme.sessionId)).checkpoint as { id: string }).id;
    acme.scheduleId = (await ok(key, 'POST', `/v1/sessions/${acme.sessionId}/schedules`, { every: '1h', prompt: 'later' })).id as string;
    acme.sandboxId = (await ok(key, 'POST', '/v1/sandboxes', {})).id as string;
  });

  afterAll(async () => {
    await harness?.close();
  });

  it('gives every record its tenant, shown in the views', async () => {
    expect((await ok(keys.acme!, 'GET', `/v1/tasks/${acme.taskId}`)).tenantId).toBe('acme');
    expect((await ok(keys.acme!, 'GET', `/v1/sessions/${acme.sessionId}`)).tenantId).toBe('acme');
    expect((await ok(keys.acme!, 'GET', `/v1/sandboxes/${acme.sandboxId}`)).tenantId).toBe('acme');
  });

  it("answers 404 to every read and write of another tenant's task, session and sandbox, and changes nothing", async () => {
    const zeta = keys.zeta!;
    const { taskId, sessionId, checkpointId, scheduleId, sandboxId } = acme;
    const attempts: Array<[string, string, unknown, string]> = [
      ['GET', `/v1/tasks/${taskId}`, undefined, 'TASK_NOT_FOUND'],
      ['GET', `/v1/tasks/${taskId}/events`, undefined, 'TASK_NOT_FOUND'],
      ['GET', `/v1/tasks/${taskId}/egress`, undefined, 'TASK_NOT_FOUND'],
      ['POST', `/v1/tasks/${taskId}/cancel`, undefined, 'TASK_NOT_FOUND'],
      ['DELETE', `/v1/tasks/${taskId}`, undefined, 'TASK_NOT_FOUND'],
      ['GET', `/v1/sessions/${sessionId}`, undefined, 'SESSION_NOT_FOUND'],
      ['POST', `/v1/sessions/${sessionId}/messages`, { prompt: 'steal' }, 'SESSION_NOT_FOUND'],
      ['GET', `/v1/sessions/${sessionId}/messages`, undefined, 'SESSION_NOT_FOUND'],
      ['GET', `/v1/sessions/${sessionId}/checkpoints`, undefined, 'SESSION_NOT_FOUND'],
      ['POST', `/v1/sessions/${sessionId}/fork`, { checkpointId }, 'SESSION_NOT_FOUND'],
      ['POST', `/v1/sessions/${sessionId}/interrupt`, undefined, 'SESSION_NOT_FOUND'],
      ['POST', `/v1/sessions/${sessionId}/hibernate`, undefined, 'SESSION_NOT_FOUND'],
      ['GET', `/v1/sessions/${sessionId}/schedules`, undefined, 'SESSION_NOT_FOUND'],
      ['POST', `/v1/sessions/${sessionId}/schedules`, { every: '1m', prompt: 'steal' }, 'SESSION_NOT_FOUND'],
      ['DELETE', `/v1/sessions/${sessionId}/schedules/${scheduleId}`, undefined, 'SESSION_NOT_FOUND'],
      ['GET', `/v1/sessions/${sessionId}/events`, undefined, 'SESSION_NOT_FOUND'],
      ['GET', `/v1/sessions/${sessionId}/egress`, undefined, 'SESSION_NOT_FOUND'],
      ['DELETE', `/v1/sessions/${sessionId}`, undefined, 'SESSION_NOT_FOUND'],
      ['GET', `/v1/sandboxes/${sandboxId}`, undefined, 'SANDBOX_NOT_FOUND'],
      ['DELETE', `/v1/sandboxes/${sandboxId}`, undefined, 'SANDBOX_NOT_FOUND'],
      ['POST', '/v1/sessions', { pattern: 'long-running', sandboxId }, 'SANDBOX_NOT_FOUND'],
      ['GET', `/v1/tasks?before=${taskId}`, undefined, 'TASK_NOT_FOUND'],
      ['GET', `/v1/sessions?before=${sessionId}`, undefined, 'SESSION_NOT_FOUND'],
    ];
    for (const [method, route, body, code] of attempts) {
      const answer = await call(zeta, method, route, body);
      expect({ route: `${method} ${route}`, status: answer.status, code: answer.body?.error?.code }).toEqual({
        route: `${method} ${route}`,
        status: 404,
        code,
      });
    }
    // The operator's own tenant is another tenant too: it manages tenants, it does not read their work.
    expect((await call(operator, 'GET', `/v1/sessions/${sessionId}`)).status).toBe(404);

    // Lists show the caller's own only.
    expect((await ok(zeta, 'GET', '/v1/tasks')).tasks).toEqual([]);
    expect((await ok(zeta, 'GET', '/v1/sessions')).sessions).toEqual([]);
    expect((await ok(zeta, 'GET', '/v1/sandboxes')).sandboxes).toEqual([]);

    // Nothing changed: the task, the session (no new message, no fork, schedule kept), the sandbox.
    const key = keys.acme!;
    expect((await ok(key, 'GET', `/v1/tasks/${taskId}`)).status).toBe('succeeded');
    expect((await ok(key, 'GET', `/v1/sessions/${sessionId}`)).status).toBe('idle');
    expect(((await ok(key, 'GET', `/v1/sessions/${sessionId}/messages`)).messages as unknown[]).length).toBe(1);
    expect(((await ok(key, 'GET', `/v1/sessions/${sessionId}/schedules`)).schedules as Array<{ id: string }>).map((schedule) => schedule.id)).toEqual([
      scheduleId,
    ]);
    expect((await ok(key, 'GET', `/v1/sessions`)).sessions as unknown[]).toHaveLength(1);
    expect((await ok(key, 'GET', `/v1/sandboxes/${sandboxId}`)).status).toBe('active');
    expect(((await ok(key, 'GET', '/v1/tasks')).tasks as Array<{ id: string }>).map((task) => task.id)).toEqual([taskId]);
  });

  it('keeps keys and tenants to their tenant: a tenant admin sees and revokes its own keys only, and manages no tenant', async () => {
    const zeta = keys.zeta!;
    const listed = (await ok(zeta, 'GET', '/v1/keys')).keys as Array<{ tenantId: string }>;
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.every((key) => key.tenantId === 'zeta')).toBe(true);
    expect((await call(zeta, 'DELETE', `/v1/keys/${acme.keyId}`)).body?.error?.code).toBe('API_KEY_NOT_FOUND');
    expect((await call(zeta, 'POST', '/v1/keys', { name: 'sneaky', scopes: ['admin'], tenantId: 'acme' })).body?.error?.code).toBe('TENANT_NOT_FOUND');
    expect((await call(zeta, 'POST', '/v1/tenants', { id: 'mine' })).status).toBe(403);
    expect((await call(zeta, 'PATCH', '/v1/tenants/zeta', { policy: {} })).status).toBe(403);
    expect((await call(zeta, 'GET', '/v1/tenants/acme')).status).toBe(404);
    expect((await ok(zeta, 'GET', '/v1/tenants')).tenants).toEqual([expect.objectContaining({ id: 'zeta' })]);
    // A run key of its own tenant works; the key of acme still works after zeta's attempts.
    const runKey = (await ok(zeta, 'POST', '/v1/keys', { name: 'runner', scopes: ['run'] })) as { token: string; key: { tenantId: string } };
    expect(runKey.key.tenantId).toBe('zeta');
    expect((await call(runKey.token, 'GET', '/v1/tasks')).status).toBe(200);
    expect((await call(keys.acme!, 'GET', '/v1/tasks')).status).toBe(200);
    // The operator sees every tenant and every key; an unknown tenant gets no key.
    expect(((await ok(operator, 'GET', '/v1/tenants')).tenants as Array<{ id: string }>).map((tenant) => tenant.id)).toEqual([
      'default',
      'acme',
      'zeta',
      'tiny',
    ]);
    expect((await call(operator, 'POST', '/v1/keys', { name: 'x', scopes: ['read'], tenantId: 'nobody' })).body?.error?.code).toBe('TENANT_NOT_FOUND');
    expect((await call(operator, 'POST', '/v1/tenants', { id: 'Bad Id' })).status).toBe(400);
    expect((await call(operator, 'POST', '/v1/tenants', { id: 'acme' })).body?.error?.code).toBe('CONFLICT');
  });

  it('refuses a request beyond the tenant policy with 403 naming the limit, and creates nothing', async () => {
    const tiny = keys.tiny!;
    const beyond: Array<[string, Record<string, unknown>, string]> = [
      ['/v1/tasks', { prompt: 'x', permissionMode: 'bypassPermissions' }, 'permissionModes'],
      ['/v1/tasks', { prompt: 'x', maxTurns: 5 }, 'maxTurns'],
      ['/v1/tasks', { prompt: 'x', allowedTools: ['Bash', 'Write'] }, 'allowedTools'],
      ['/v1/tasks', { prompt: 'x', network: { allowedHosts: ['evil.test'] } }, 'network.allowedHosts'],
      ['/v1/tasks', { prompt: 'x', network: { allowedHosts: ['*.example.com:8443'] } }, 'network.allowedHosts'],
      ['/v1/tasks', { prompt: 'x', network: { presets: ['github'] } }, 'network.presets'],
      ['/v1/sessions', { pattern: 'long-running', resources: { memoryMb: 1024 } }, 'maxResources.memoryMb'],
      ['/v1/sandboxes', { resources: { memoryMb: 1024 } }, 'maxResources.memoryMb'],
    ];
    for (const [route, body, limit] of beyond) {
      const answer = await call(tiny, 'POST', route, body);
      expect({ route, status: answer.status, code: answer.body?.error?.code, limit: answer.body?.error?.details?.limit }).toEqual({
        route,
        status: 403,
        code: 'POLICY_VIOLATION',
        limit,
      });
      expect(answer.body?.error?.message).toContain(limit);
    }
    expect((await ok(tiny, 'GET', '/v1/tasks')).tasks).toEqual([]);
    expect((await ok(tiny, 'GET', '/v1/sessions')).sessions).toEqual([]);
    expect((await ok(tiny, 'GET', '/v1/sandboxes')).sandboxes).toEqual([]);
  });

  it("fills in the policy's limits as defaults, and holds the tenant to its live sandboxes with 429", async () => {
    const tiny = keys.tiny!;
    const session = await ok(tiny, 'POST', '/v1/sessions', {
      pattern: 'long-running',
      files: { 'notes.txt': 'kept live' },
      network: { allowedHosts: ['api.example.com'], presets: ['npm'] },
    });
    const options = session.options as { maxTurns: number; allowedTools: string[]; resources: { memoryMb: number } };
    expect(options.maxTurns).toBe(2);
    expect(options.allowedTools).toEqual(['Bash', 'Read']);
    expect(options.resources.memoryMb).toBe(512);
    expect(await ok(tiny, 'GET', '/v1/tenants/tiny/usage')).toMatchObject({ tenantId: 'tiny', liveSandboxes: 1, maxConcurrentSandboxes: 1 });

    const full = await call(tiny, 'POST', '/v1/sessions', { pattern: 'long-running', files: { 'b.txt': 'b' } });
    expect(full.status).toBe(429);
    expect(full.body?.error).toMatchObject({ code: 'CAPACITY_EXCEEDED', details: { limit: 'maxConcurrentSandboxes', tenantId: 'tiny' } });
    expect(Number(full.headers['retry-after'])).toBeGreaterThan(0);
    expect((await call(tiny, 'POST', '/v1/tasks', { prompt: 'x' })).status).toBe(429);
    expect((await call(tiny, 'POST', '/v1/sandboxes', {})).status).toBe(429);
    // Other tenants are not held to it.
    const other = await ok(keys.zeta!, 'POST', '/v1/sessions', { pattern: 'long-running', files: { 'z.txt': 'z' } });
    await ok(keys.zeta!, 'DELETE', `/v1/sessions/${other.id as string}`);
    // Once the tenant's sandbox is gone, it may make another.
    await ok(tiny, 'DELETE', `/v1/sessions/${session.id as string}`);
    const next = await ok(tiny, 'POST', '/v1/sessions', { pattern: 'long-running', files: { 'c.txt': 'c' } });
    await ok(tiny, 'DELETE', `/v1/sessions/${next.id as string}`);
  });

  it("holds an existing session's next message and its forks to a policy tightened after it was made", async () => {
    await ok(operator, 'POST', '/v1/tenants', { id: 'shifty', policy: { network: { allowedHosts: ['*.example.com'] } } });
    const key = ((await ok(operator, 'POST', '/v1/keys', { name: 'shifty admin', scopes: ['admin'], tenantId: 'shifty' })) as { token: string }).token;
    const session = await ok(key, 'POST', '/v1/sessions', { pattern: 'hybrid', prompt: 'say done', network: { allowedHosts: ['api.example.com'] } });
    const sessionId = session.id as string;
    await waitForIdle(key, sessionId);
    await ok(operator, 'PATCH', '/v1/tenants/shifty', { policy: { network: { allowedHosts: ['*.other.test'] } } });
    for (const [route, body] of [
      [`/v1/sessions/${sessionId}/messages`, { prompt: 'again' }],
      [`/v1/sessions/${sessionId}/fork`, {}],
    ] as const) {
      const refused = await call(key, 'POST', route, body);
      expect({ route, status: refused.status, limit: refused.body?.error?.details?.limit }).toEqual({ route, status: 403, limit: 'network.allowedHosts' });
    }
    expect(((await ok(key, 'GET', `/v1/sessions/${sessionId}/messages`)).messages as unknown[]).length).toBe(1);
    expect((await ok(key, 'GET', '/v1/sessions')).sessions as unknown[]).toHaveLength(1);
    // Loosened again, the session takes messages.
    await ok(operator, 'PATCH', '/v1/tenants/shifty', { policy: {} });
    expect((await call(key, 'POST', `/v1/sessions/${sessionId}/messages`, { prompt: 'again' })).status).toBe(202);
  });

  it("applies the tenant's own request rate once the operator sets it", async () => {
    const tiny = keys.tiny!;
    const current = (await ok(operator, 'GET', '/v1/tenants/tiny')).policy as Record<string, unknown>;
    await ok(operator, 'PATCH', '/v1/tenants/tiny', { policy: { ...current, requestsPerSecond: 0.001, burst: 3 } });
    const statuses: number[] = [];
    let limited: ApiAnswer | undefined;
    for (let i = 0; i < 5; i += 1) {
      const answer = await call(tiny, 'GET', '/v1/tasks');
      statuses.push(answer.status);
      if (answer.status === 429) limited ??= answer;
    }
    expect(statuses.filter((status) => status === 200).length).toBeLessThanOrEqual(3);
    expect(limited?.body?.error).toMatchObject({ code: 'RATE_LIMITED', message: expect.stringContaining('tenant policy') });
    // Other tenants keep their own rate.
    expect((await call(keys.zeta!, 'GET', '/v1/tasks')).status).toBe(200);
  });

  it("ends a task of a tenant past its daily budget with the gateway's refusal, and counts the spend", async () => {
    await ok(operator, 'POST', '/v1/tenants', { id: 'broke', policy: { dailyBudgetUsd: 0.000001 } });
    const key = ((await ok(operator, 'POST', '/v1/keys', { name: 'broke runner', scopes: ['run'], tenantId: 'broke' })) as { token: string }).token;
    // The first call starts with nothing spent and goes up; it spends past the budget.
    expect((await ok(key, 'POST', '/v1/tasks', { prompt: 'say done' })).status).toBe('succeeded');
    const refused = await ok(key, 'POST', '/v1/tasks', { prompt: 'say done' });
    expect(refused.status).toBe('failed');
    expect(refused.error).toMatchObject({ code: 'BUDGET_EXCEEDED', message: expect.stringContaining('daily budget') });
    const usage = await ok(operator, 'GET', '/v1/tenants/broke/usage');
    expect(usage).toMatchObject({ tenantId: 'broke', dailyBudgetUsd: 0.000001 });
    expect(usage.costUsd as number).toBeGreaterThan(0.000001);
  });

  it('refuses a revoked tenant key at once', async () => {
    const made = (await ok(operator, 'POST', '/v1/keys', { name: 'short-lived', scopes: ['read'], tenantId: 'zeta' })) as {
      token: string;
      key: { id: string };
    };
    expect((await call(made.token, 'GET', '/v1/tasks')).status).toBe(200);
    await ok(keys.zeta!, 'DELETE', `/v1/keys/${made.key.id}`);
    expect((await call(made.token, 'GET', '/v1/tasks')).status).toBe(401);
  });
});
