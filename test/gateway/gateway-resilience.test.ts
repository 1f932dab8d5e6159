// The model gateway's retries, budgets and key rotation against a real HTTP upstream on loopback
// that injects faults: 529s on 30% of requests, answers with retry-after, and a key read from a file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModelGateway, type ModelGateway } from '../../src/gateway/model-gateway.js';

interface Fault {
  status: number;
  headers?: Record<string, string>;
}

describe('model gateway resilience', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-gateway-resilience-'));
  const keyFile = path.join(directory, 'secrets', 'anthropic-key');
  /** Faults answered to the next requests, in order; when empty, `inject` decides. */
  const queued: Fault[] = [];
  let inject: (index: number) => Fault | undefined = () => undefined;
  const keysSeen: string[] = [];
  let received = 0;
  let upstream: http.Server;
  let gateway: ModelGateway;
  let client: Agent;

  beforeAll(async () => {
    upstream = http.createServer((incoming, response) => {
      incoming.resume();
      incoming.on('end', () => {
        const index = received++;
        keysSeen.push(String(incoming.headers['x-api-key']));
        const fault = queued.shift() ?? inject(index);
        if (fault !== undefined) {
          response.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
          response.end(JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: `injected ${fault.status}` } }));
          return;
        }
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({
            type: 'message',
            model: 'claude-sonnet-4-5',
            content: [{ type: 'text', text: 'ok' }],
            usage: { input_tokens: 1000, output_tokens: 1000 },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(path.dirname(keyFile));
    writeFileSync(keyFile, 'sk-ant-first-key-1111\n');
    gateway = await startModelGateway({
      socketPath: path.join(directory, 'gateway.sock'),
      upstreamUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      upstreamApiKeyFile: keyFile,
      requestTimeoutMs: 10_000,
      retry: { maxRetries: 2, baseDelayMs: 5, maxWaitMs: 1000 },
      logger: pino({ level: 'silent' }),
    });
    client = new Agent({ connect: { socketPath: gateway.socketPath } });
  });

  afterAll(async () => {
    await client.close();
    await gateway.close();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
    rmSync(directory, { recursive: true, force: true });
  });

  const call = async (
    token: string,
  ): Promise<{ status: number; shouldRetry: string | undefined; body: { type?: string; error?: { type: string; message: string } } }> => {
    const response = await request('http://gateway/v1/messages', {
      method: 'POST',
      dispatcher: client,
      headers: { 'x-api-key': token, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const shouldRetry = response.headers['x-should-retry'];
    return {
      status: response.statusCode,
      shouldRetry: typeof shouldRetry === 'string' ? shouldRetry : undefined,
      body: (await response.body.json()) as { type?: string },
    };
  };

  it('survives 529s injected on 30% of upstream requests', async () => {
    const token = gateway.registerSession('retries');
    const before = received;
    // Requests 0, 3 and 6 of every ten fail: never two in a row, so one retry always suffices.
    inject = (index) => ([0, 3, 6].includes((index - before) % 10) ? { status: 529 } : undefined);
    const answers = [];
    for (let i = 0; i < 20; i += 1) answers.push(await call(token));
    inject = () => undefined;
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200));
    const upstreamRequests = received - before;
    expect(upstreamRequests).toBeGreaterThan(20);
    expect(upstreamRequests).toBeLessThan(40);
    // Each upstream attempt is a request; the injected 529s are the failed ones.
    expect(gateway.usage('retries')).toMatchObject({ requests: upstreamRequests, failedRequests: upstreamRequests - 20 });
  });

  it('honours retry-after, gives up after its retries, and passes back a wait longer than it may take', async () => {
    const token = gateway.registerSession('giving-up');
    queued.push({ status: 429, headers: { 'retry-after': '0' } }, { status: 503 });
    expect((await call(token)).status).toBe(200);
    queued.push({ status: 529 }, { status: 529 }, { status: 529 });
    const exhausted = await call(token);
    expect(exhausted.status).toBe(529);
    expect(exhausted.body.error?.message).toContain('529');
    // Retried already: the agent's SDK is told not to retry on top.
    expect(exhausted.shouldRetry).toBe('false');
    const before = received;
    queued.push({ status: 429, headers: { 'retry-after': '120' } });
    const longWait = await call(token);
    expect(longWait.status).toBe(429);
    expect(longWait.shouldRetry).toBeUndefined();
    expect(received - before).toBe(1);
    // Not retried: the request itself is wrong.
    queued.push({ status: 400 });
    expect((await call(token)).status).toBe(400);
  });

  it('stops a budgeted session before the upstream call, with at most one response over', async () => {
    const token = gateway.registerSession('budget');
    // One response costs 1000 x $3 + 1000 x $15 per MTok = $0.018: the limit is crossed by the first.
    gateway.setBudget('budget', { limitUsd: 0.01, spentUsd: 0 });
    const before = received;
    const answers = await Promise.all([1, 2, 3, 4, 5].map(() => call(token)));
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
    const refused = answers.filter((answer) => answer.status === 402);
    expect(refused).toHaveLength(4);
    expect(refused[0]!.body.error).toEqual({ type: 'billing_error', message: expect.stringContaining('of its $0.01 budget') });
    expect(received - before).toBe(1);
    // What the session spent before counts: a limit already reached refuses the first call.
    const other = gateway.registerSession('spent-before');
    gateway.setBudget('spent-before', { limitUsd: 1, spentUsd: 1 });
    expect((await call(other)).status).toBe(402);
    gateway.setBudget('spent-before', undefined);
    expect((await call(other)).status).toBe(200);
  });

  it('takes a rotated key from its file without a restart, and never the old one after reload', async () => {
    const token = gateway.registerSession('rotation');
    await call(token);
    expect(keysSeen.at(-1)).toBe('sk-ant-first-key-1111');
    writeFileSync(keyFile, 'sk-ant-second-key-2222\n');
    await gateway.reloadUpstreamKey();
    await call(token);
    expect(keysSeen.at(-1)).toBe('sk-ant-second-key-2222');
    // A file that turns unreadable keeps the last good key.
    writeFileSync(keyFile, '');
    await gateway.reloadUpstreamKey();
    await call(token);
    expect(keysSeen.at(-1)).toBe('sk-ant-second-key-2222');
  });
});
