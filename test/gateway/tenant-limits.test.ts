// The gateway's per-tenant limits against Hangar's scripted model server, with the spend kept in a
// real SQLite file: a tenant's daily budget refuses calls once reached (402 billing_error, the CLI
// ends the run), also across sessions of the tenant and after the store is reopened, never another
// tenant's calls, and a new UTC day starts afresh; the per-minute call limit answers 429
// rate_limit_error with a retry-after (the CLI waits and retries) and never reaches the upstream.
// A call is charged to the tenant it was admitted for, even when its session is forgotten before it ends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModelGateway, type ModelGateway } from '../../src/gateway/model-gateway.js';
import { createTenantGatewayLimits, utcDay, type TenantGatewayLimits } from '../../src/gateway/tenant-limits.js';
import { startScriptedModelServer, type ScriptedModelServer } from '../../src/model/scripted-model-server.js';
import { createInMemoryStore } from '../../src/store/in-memory/index.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import type { Store } from '../../src/store/store.js';
import type { TenantPolicy } from '../../src/tenants/tenant-policy.js';
import { useGatewayOverUpstream } from '../helpers/gateway-over-upstream.js';

describe('the gateway holds each tenant to its policy', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-tenant-limits-'));
  const databaseFile = path.join(directory, 'hangar.db');
  /** Each call costs 1,000,000 input and 0 output tokens of claude-sonnet-4-5: $3. */
  const reply = { content: [{ type: 'text' as const, text: 'ok' }], usage: { inputTokens: 1_000_000, outputTokens: 0 } };
  const policies: Record<string, TenantPolicy> = {
    thrifty: { dailyBudgetUsd: 7 },
    hurried: { upstreamRequestsPerMinute: 3 },
    open: {},
  };
  let now = new Date('2026-03-01T12:00:00.000Z');
  let model: ScriptedModelServer;
  let store: Store;
  let limits: TenantGatewayLimits;
  let gateway: ModelGateway;
  let client: Agent;

  const startGateway = async (): Promise<void> => {
    limits = createTenantGatewayLimits({
      policies: { policyOf: async (tenantId) => policies[tenantId] ?? {} },
      usage: store.tenantUsage,
      prices: {
        models: { 'claude-sonnet-4-5': { inputPerMTok: 3, outputPerMTok: 15, cacheWritePerMTok: 3.75, cacheReadPerMTok: 0.3 } },
        fallback: { inputPerMTok: 3, outputPerMTok: 15, cacheWritePerMTok: 3.75, cacheReadPerMTok: 0.3 },
      },
      logger: pino({ level: 'silent' }),
      now: () => now,
    });
    gateway = await startModelGateway({
      socketPath: path.join(directory, 'gateway.sock'),
      upstreamUrl: model.url,
      upstreamApiKey: 'sk-ant-test',
      requestTimeoutMs: 10_000,
      tenantLimits: limits,
      logger: pino({ level: 'silent' }),
    });
    client = new Agent({ connect: { socketPath: gateway.socketPath } });
  };

  beforeAll(async () => {
    model = await startScriptedModelServer({ scenario: { replies: [], whenExhausted: 'repeat-last', auxiliary: 'script' } });
    model.setScenario({ replies: [reply], whenExhausted: 'repeat-last', auxiliary: 'script' });
    store = await createSqliteStore({ filePath: databaseFile });
    await startGateway();
  });

  afterAll(async () => {
    await client?.close();
    await gateway?.close();
    await store?.close();
    await model?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  const call = async (token: string) => {
    const response = await request('http://gateway/v1/messages', {
      method: 'POST',
      dispatcher: client,
      headers: { 'x-api-key': token, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const body = (await response.body.json()) as { type: string; error?: { type: string; message: string } };
    return { status: response.statusCode, retryAfter: response.headers['retry-after'], body };
  };

  it("refuses a tenant's calls once its daily budget is spent, across its sessions, and never another tenant's", async () => {
    const first = gateway.registerSession('sess-thrifty-1', 'thrifty');
    const second = gateway.registerSession('sess-thrifty-2', 'thrifty');
    const other = gateway.registerSession('sess-open', 'open');
    const before = model.requests.length;
    // $3 a call: the third call starts at $6 of $7 and goes up (at most one response over), the fourth is refused.
    expect((await call(first)).status).toBe(200);
    expect((await call(second)).status).toBe(200);
    expect((await call(first)).status).toBe(200);
    const refused = await call(second);
    expect(refused.status).toBe(402);
    expect(refused.body.error).toEqual({ type: 'billing_error', message: expect.stringContaining('daily budget') });
    expect(refused.body.error?.message).toContain('dailyBudgetUsd');
    expect(model.requests.length - before).toBe(3);
    // Another tenant is not held to it.
    expect((await call(other)).status).toBe(200);
    expect(await store.tenantUsage.get('thrifty', '2026-03-01')).toMatchObject({ requests: 3, inputTokens: 3_000_000, costUsd: 9 });
  });

  it('keeps the spend across a restart, and starts afresh the next UTC day', async () => {
    await client.close();
    await gateway.close();
    await store.close();
    store = await createSqliteStore({ filePath: databaseFile });
    await startGateway();
    const token = gateway.registerSession('sess-thrifty-3', 'thrifty');
    expect((await call(token)).status).toBe(402);
    now = new Date('2026-03-02T00:00:01.000Z');
    expect((await call(token)).status).toBe(200);
    await limits.flush();
    expect((await store.tenantUsage.get('thrifty', '2026-03-02')).requests).toBe(1);
  });

  it('answers 429 rate_limit_error with a retry-after beyond the calls per minute, without calling upstream, and lets them through a minute on', async () => {
    const token = gateway.registerSession('sess-hurried', 'hurried');
    const other = gateway.registerSession('sess-open-2', 'open');
    const before = model.requests.length;
    for (let i = 0; i < 3; i += 1) expect((await call(token)).status).toBe(200);
    const limited = await call(token);
    expect(limited.status).toBe(429);
    expect(limited.body.error).toEqual({ type: 'rate_limit_error', message: expect.stringContaining('upstreamRequestsPerMinute') });
    expect(Number(limited.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(model.requests.length - before).toBe(3);
    expect((await call(other)).status).toBe(200);
    now = new Date(now.getTime() + 60_000);
    expect((await call(token)).status).toBe(200);
  });
});

describe("the gateway charges a call to its session's tenant", () => {
  const store = createInMemoryStore();
  /** Resolves once the upstream has the call; `answer` lets the upstream answer it. */
  let arrived!: () => void;
  const arrival = new Promise<void>((resolve) => (arrived = resolve));
  let answer!: () => void;
  const answered = new Promise<void>((resolve) => (answer = resolve));
  const limits = createTenantGatewayLimits({
    policies: { policyOf: async () => ({ dailyBudgetUsd: 1 }) },
    usage: store.tenantUsage,
    prices: { models: {}, fallback: { inputPerMTok: 3, outputPerMTok: 15, cacheWritePerMTok: 3.75, cacheReadPerMTok: 0.3 } },
    logger: pino({ level: 'silent' }),
  });
  const setup = useGatewayOverUpstream(
    'hangar-tenant-charge-',
    (_incoming, response) => {
      arrived();
      void answered.then(() => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({
            id: 'msg_1',
            type: 'message',
            role: 'assistant',
            model: 'claude-sonnet-4-5',
            content: [{ type: 'text', text: 'ok' }],
            stop_reason: 'end_turn',
            usage: { input_tokens: 1_000_000, output_tokens: 0 },
          }),
        );
      });
    },
    { tenantLimits: limits },
  );

  it('even when the session is closed while the call is in flight (a process left in a shared sandbox): never the default tenant', async () => {
    const token = setup.gateway.registerSession('sess-leaving', 'acme');
    const call = request('http://gateway/v1/messages', {
      method: 'POST',
      dispatcher: setup.client,
      headers: { 'x-api-key': token, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await arrival;
    setup.gateway.forgetSession('sess-leaving');
    answer();
    const response = await call;
    expect(response.statusCode).toBe(200);
    await response.body.text();
    await limits.flush();
    const day = utcDay(new Date());
    expect(await store.tenantUsage.get('acme', day)).toMatchObject({ requests: 1, costUsd: 3 });
    expect((await store.tenantUsage.get('default', day)).requests).toBe(0);
    // The call that outlived its session left nothing of it in the gateway's memory.
    expect(setup.gateway.stats().sessionsHeld).toBe(0);
  });
});
