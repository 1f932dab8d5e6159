// The model gateway against a real HTTP upstream on loopback: key injection, token checks,
// streaming pass-through and token metering.
import type http from 'node:http';
import path from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { startGatewayWithClient, useGatewayOverUpstream } from '../helpers/gateway-over-upstream.js';

const REAL_KEY = 'sk-ant-real-key-that-must-stay-on-the-host';

interface SeenRequest {
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function sse(events: Array<Record<string, unknown>>): string {
  return events.map((event) => `event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`).join('');
}

/** Requests the upstream received, in order. */
const seen: SeenRequest[] = [];

/** The upstream: count_tokens answers 42; a streamed message arrives in two writes, one event cut in half. */
const answer: http.RequestListener = (incoming, response) => {
  const chunks: Buffer[] = [];
  incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
  incoming.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    seen.push({ url: incoming.url ?? '', headers: incoming.headers, body });
    const parsed = JSON.parse(body) as { stream?: boolean };
    if (incoming.url?.startsWith('/v1/messages/count_tokens')) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ input_tokens: 42 }));
    } else if (parsed.stream) {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      // Split the stream in two writes, cutting an event in half, to exercise reassembly.
      const text = sse([
        {
          type: 'message_start',
          message: {
            id: 'msg_1',
            model: 'claude-sonnet-4-5',
            usage: { input_tokens: 120, output_tokens: 1, cache_creation_input_tokens: 30, cache_read_input_tokens: 7 },
          },
        },
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hello' } },
        { type: 'content_block_stop', index: 0 },
        { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 9 } },
        { type: 'message_stop' },
      ]);
      response.write(text.slice(0, 150));
      setTimeout(() => response.end(text.slice(150)), 20);
    } else {
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ type: 'message', model: 'claude-haiku-4-5', content: [], usage: { input_tokens: 10, output_tokens: 3 } }));
    }
  });
};

describe('model gateway', () => {
  const bed = useGatewayOverUpstream('hangar-gateway-', answer, { upstreamApiKey: REAL_KEY });

  const call = (pathname: string, token: string | undefined, body: unknown) =>
    request(`http://gateway${pathname}`, {
      method: 'POST',
      dispatcher: bed.client,
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...(token ? { 'x-api-key': token } : {}) },
      body: JSON.stringify(body),
    });

  it('swaps the session token for the real key, streams the answer through and meters it', async () => {
    const token = bed.gateway.registerSession('session-a');
    expect(token).not.toContain(REAL_KEY);
    const response = await call('/v1/messages?beta=true', token, { model: 'claude-sonnet-4-5', stream: true, max_tokens: 100, messages: [] });
    expect(response.statusCode).toBe(200);
    const text = await response.body.text();
    expect(text).toContain('"text":"hello"');
    expect(text).toContain('message_stop');
    const upstreamSaw = seen.at(-1);
    expect(upstreamSaw?.url).toBe('/v1/messages?beta=true');
    expect(upstreamSaw?.headers['x-api-key']).toBe(REAL_KEY);
    expect(upstreamSaw?.headers['anthropic-version']).toBe('2023-06-01');
    expect(JSON.stringify(upstreamSaw?.headers)).not.toContain(token);
    const usage = bed.gateway.usage('session-a');
    expect(usage.total).toEqual({ inputTokens: 120, outputTokens: 9, cacheCreationInputTokens: 30, cacheReadInputTokens: 7 });
    expect(usage.byModel['claude-sonnet-4-5']?.outputTokens).toBe(9);
    expect(usage.requests).toBe(1);
  });

  it('meters non-streaming calls and keeps sessions apart', async () => {
    const token = bed.gateway.registerSession('session-b');
    const response = await call('/v1/messages', token, { model: 'claude-haiku-4-5', max_tokens: 10, messages: [] });
    expect(response.statusCode).toBe(200);
    await response.body.text();
    expect(bed.gateway.usage('session-b').total).toEqual({ inputTokens: 10, outputTokens: 3, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 });
    expect(bed.gateway.usage('session-a').total.inputTokens).toBe(120);
  });

  it('forwards count_tokens without counting it as model usage', async () => {
    const token = bed.gateway.registerSession('session-c');
    const response = await call('/v1/messages/count_tokens', token, { model: 'claude-sonnet-4-5', messages: [] });
    expect(await response.body.json()).toEqual({ input_tokens: 42 });
    expect(bed.gateway.usage('session-c').requests).toBe(0);
  });

  it('refuses missing, unknown and revoked tokens with 401, and other paths with 404', async () => {
    const before = seen.length;
    const missing = await call('/v1/messages', undefined, { model: 'x', messages: [] });
    expect(missing.statusCode).toBe(401);
    expect(((await missing.body.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
    const unknown = await call('/v1/messages', 'hgr-made-up', { model: 'x', messages: [] });
    expect(unknown.statusCode).toBe(401);
    await unknown.body.dump();
    const token = bed.gateway.registerSession('session-d');
    bed.gateway.revokeSession('session-d');
    const revoked = await call('/v1/messages', token, { model: 'x', messages: [] });
    expect(revoked.statusCode).toBe(401);
    await revoked.body.dump();
    const live = bed.gateway.registerSession('session-e');
    const elsewhere = await call('/v1/files', live, {});
    expect(elsewhere.statusCode).toBe(404);
    await elsewhere.body.dump();
    expect(seen.length).toBe(before);
  });

  it('answers 502 in the Anthropic error format when the upstream is down', async () => {
    const down = await startGatewayWithClient({
      socketPath: path.join(bed.directory, 'down.sock'),
      upstreamUrl: 'http://127.0.0.1:9',
      upstreamApiKey: REAL_KEY,
      requestTimeoutMs: 2_000,
      // Each failed connection counts; with the default two retries this call would count three.
      retry: { maxRetries: 0 },
    });
    try {
      const token = down.gateway.registerSession('s');
      const response = await request('http://gateway/v1/messages', {
        method: 'POST',
        dispatcher: down.client,
        headers: { 'x-api-key': token, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [] }),
      });
      expect(response.statusCode).toBe(502);
      const body = (await response.body.json()) as { type: string; error: { type: string; message: string } };
      expect(body.type).toBe('error');
      expect(body.error.message).not.toContain(REAL_KEY);
      expect(down.gateway.usage('s').failedRequests).toBe(1);
    } finally {
      await down.close();
    }
  });
});
