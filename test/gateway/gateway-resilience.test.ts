// The model gateway's retries, budgets and key rotation against a real HTTP upstream on loopback
// that injects faults: 529s on 30% of requests, answers with retry-after, and a key read from a file.
import { mkdirSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { useGatewayOverUpstream } from '../helpers/gateway-over-upstream.js';

interface Fault {
  status: number;
  headers?: Record<string, string>;
}

describe('model gateway resilience', () => {
  /** Faults answered to the next requests, in order; when empty, `inject` decides. */
  const queued: Fault[] = [];
  let inject: (index: number) => Fault | undefined = () => undefined;
  const keysSeen: string[] = [];
  let received = 0;
  /** The upstream: the next fault, else a message of 1000 input and 1000 output tokens. */
  const answer: http.RequestListener = (incoming, response) => {
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
  };
  const bed = useGatewayOverUpstream('hangar-gateway-resilience-', answer, (directory) => {
    const keyFile = path.join(directory, 'secrets', 'anthropic-key');
    mkdirSync(path.dirname(keyFile));
    writeFileSync(keyFile, 'sk-ant-first-key-1111\n');
    return { upstreamApiKeyFile: keyFile, retry: { maxRetries: 2, baseDelayMs: 5, maxWaitMs: 1000 } };
  });
  const keyFile = path.join(bed.directory, 'secrets', 'anthropic-key');

  const call = async (
    token: string,
  ): Promise<{ status: number; shouldRetry: string | undefined; body: { type?: string; error?: { type: string; message: string } } }> => {
    const response = await request('http://gateway/v1/messages', {
      method: 'POST',
      dispatcher: bed.client,
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
    const token = bed.gateway.registerSession('retries');
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
    expect(bed.gateway.usage('retries')).toMatchObject({ requests: upstreamRequests, failedRequests: upstreamRequests - 20 });
  });

  it('honours retry-after, gives up after its retries, and passes back a wait longer than it may take', async () => {
    const token = bed.gateway.registerSession('giving-up');
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
    const token = bed.gateway.registerSession('budget');
    // One response costs 1000 x $3 + 1000 x $15 per MTok = $0.018: the limit is crossed by the first.
    bed.gateway.setBudget('budget', { limitUsd: 0.01, spentUsd: 0 });
    const before = received;
    const answers = await Promise.all([1, 2, 3, 4, 5].map(() => call(token)));
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
    const refused = answers.filter((answer) => answer.status === 402);
    expect(refused).toHaveLength(4);
    expect(refused[0]!.body.error).toEqual({ type: 'billing_error', message: expect.stringContaining('of its $0.01 budget') });
    expect(received - before).toBe(1);
    // What the session spent before counts: a limit already reached refuses the first call.
    const other = bed.gateway.registerSession('spent-before');
    bed.gateway.setBudget('spent-before', { limitUsd: 1, spentUsd: 1 });
    expect((await call(other)).status).toBe(402);
    bed.gateway.setBudget('spent-before', undefined);
    expect((await call(other)).status).toBe(200);
  });

  it('takes a rotated key from its file without a restart, and never the old one after reload', async () => {
    const token = bed.gateway.registerSession('rotation');
    await call(token);
    expect(keysSeen.at(-1)).toBe('sk-ant-first-key-1111');
    writeFileSync(keyFile, 'sk-ant-second-key-2222\n');
    await bed.gateway.reloadUpstreamKey();
    await call(token);
    expect(keysSeen.at(-1)).toBe('sk-ant-second-key-2222');
    // A file that turns unreadable keeps the last good key.
    writeFileSync(keyFile, '');
    await bed.gateway.reloadUpstreamKey();
    await call(token);
    expect(keysSeen.at(-1)).toBe('sk-ant-second-key-2222');
  });
});
