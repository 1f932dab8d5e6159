// The model gateway's limits and allowlists against Hangar's scripted model server as the real
// upstream: oversized and stalled bodies, per-token concurrency and byte budgets, and the query,
// beta and body-field allowlists. Every refusal is answered in the Anthropic error format and never
// reaches the upstream.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startModelGateway, type ModelGateway, type ModelGatewaySettings } from '../../src/gateway/model-gateway.js';
import { startScriptedModelServer, type ScriptedModelServer } from '../../src/model/scripted-model-server.js';

const KIB = 1024;
const CLI_BETAS = 'claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27';

interface RawAnswer {
  status: number;
  headers: string;
  body: string;
  /** The gateway closed the connection. */
  closed: boolean;
}

/** A connection to the gateway's socket that sends raw bytes and reads one answer. */
class RawClient {
  readonly socket: net.Socket;
  private received = '';
  private ended = false;
  private readonly waiters: Array<() => void> = [];

  constructor(socketPath: string) {
    this.socket = net.connect(socketPath);
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => {
      this.received += chunk;
      this.wake();
    });
    this.socket.on('error', () => this.wake());
    this.socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  send(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  head(options: { token: string; path?: string; length?: number; chunked?: boolean; headers?: Record<string, string> }): void {
    const lines = [`POST ${options.path ?? '/v1/messages'} HTTP/1.1`, 'Host: 127.0.0.1:4100', `x-api-key: ${options.token}`, 'content-type: application/json'];
    if (options.chunked) lines.push('transfer-encoding: chunked');
    if (options.length !== undefined) lines.push(`content-length: ${options.length}`);
    for (const [name, value] of Object.entries(options.headers ?? {})) lines.push(`${name}: ${value}`);
    this.send(`${lines.join('\r\n')}\r\n\r\n`);
  }

  /** Waits for a complete answer (headers and a content-length body), or the connection's end. */
  async answer(timeoutMs = 10_000): Promise<RawAnswer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const split = this.received.indexOf('\r\n\r\n');
      if (split >= 0) {
        const headers = this.received.slice(0, split);
        const length = Number(/content-length: (\d+)/i.exec(headers)?.[1] ?? 0);
        const chunked = /transfer-encoding: chunked/i.test(headers);
        let body = this.received.slice(split + 4);
        if (chunked ? body.endsWith('0\r\n\r\n') : Buffer.byteLength(body) >= length || this.ended) {
          if (chunked) body = body.replace(/(^|\r\n)[0-9a-f]+\r\n/g, '').replace(/\r\n$/, '');
          return { status: Number(headers.slice(9, 12)), headers, body, closed: this.ended || /connection: close/i.test(headers) };
        }
      } else if (this.ended) {
        return { status: 0, headers: '', body: '', closed: true };
      }
      if (Date.now() > deadline) throw new Error(`no answer within ${timeoutMs} ms; got ${JSON.stringify(this.received.slice(0, 200))}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

const messagesBody = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 100, stream: false, messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('model gateway limits and allowlists', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-gateway-limits-'));
  const clients: RawClient[] = [];
  let model: ScriptedModelServer;
  let gateway: ModelGateway;

  const connect = (target: ModelGateway = gateway): RawClient => {
    const client = new RawClient(target.socketPath);
    clients.push(client);
    return client;
  };

  const startGateway = (name: string, overrides: Partial<ModelGatewaySettings> = {}) =>
    startModelGateway({
      socketPath: path.join(directory, `${name}.sock`),
      upstreamUrl: model.url,
      upstreamApiKey: 'sk-ant-real-key',
      requestTimeoutMs: 10_000,
      maxRequestBytes: 256 * KIB,
      maxInFlightBytesPerToken: 400 * KIB,
      maxConcurrentRequestsPerToken: 3,
      bodyTimeoutMs: 1_500,
      headersTimeoutMs: 2_000,
      logger: pino({ level: 'silent' }),
      ...overrides,
    });

  /** A complete request on a fresh connection. */
  const complete = async (
    token: string,
    body: string,
    options: { path?: string; headers?: Record<string, string>; target?: ModelGateway } = {},
  ): Promise<RawAnswer> => {
    const client = connect(options.target);
    client.head({ token, length: Buffer.byteLength(body), ...options });
    client.send(body);
    return client.answer();
  };

  beforeAll(async () => {
    model = await startScriptedModelServer({ scenario: { replies: [], whenExhausted: { text: 'ok' } } });
    gateway = await startGateway('main');
  });
  beforeEach(() => {
    model.requests.length = 0;
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await gateway?.close();
    await model?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('forwards an allowed request with only allowlisted headers and betas', async () => {
    const token = gateway.registerSession('allowed');
    const answer = await complete(token, messagesBody(), {
      path: '/v1/messages?beta=true',
      headers: {
        'anthropic-beta': CLI_BETAS,
        'anthropic-version': '2023-06-01',
        'user-agent': 'claude-cli/2',
        'x-stainless-os': 'Linux',
        'x-forwarded-for': '10.0.0.1',
      },
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ type: 'message' });
    const seen = model.requests.at(-1);
    expect(seen?.path).toBe('/v1/messages?beta=true');
    expect(seen?.headers['anthropic-beta']).toBe(CLI_BETAS);
    expect(seen?.headers['user-agent']).toBe('claude-cli/2');
    expect(seen?.headers['x-stainless-os']).toBeUndefined();
    expect(seen?.headers['x-forwarded-for']).toBeUndefined();
  });

  it('refuses a Content-Length over the cap with 413 before reading the body, and closes the connection', async () => {
    const token = gateway.registerSession('big');
    const client = connect();
    client.head({ token, length: 32 * 1024 * 1024 });
    const answer = await client.answer();
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ type: 'error', error: { type: 'request_too_large' } });
    expect(answer.closed).toBe(true);
    expect(model.requests).toHaveLength(0);
  });

  it('cuts a chunked body at the cap with 413', async () => {
    const token = gateway.registerSession('chunked');
    const client = connect();
    client.head({ token, chunked: true });
    const chunk = 'x'.repeat(64 * KIB);
    for (let i = 0; i < 6; i += 1) client.send(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    const answer = await client.answer();
    expect(answer.status).toBe(413);
    expect(model.requests).toHaveLength(0);
    expect(gateway.stats().bufferedBytes).toBe(0);
  });

  it('answers 408 to a body that stalls, and frees its budget', async () => {
    const token = gateway.registerSession('stall');
    const client = connect();
    client.head({ token, length: 100 * KIB });
    client.send('{"model":');
    const answer = await client.answer();
    expect(answer.status).toBe(408);
    expect(answer.closed).toBe(true);
    expect(gateway.stats().bufferedBytes).toBe(0);
    expect(gateway.stats().openRequests).toBe(0);
    expect(model.requests).toHaveLength(0);
  });

  it('holds one token to its concurrent requests and byte budget with 429, without touching another token', async () => {
    const token = gateway.registerSession('greedy');
    const stalled = [connect(), connect()];
    for (const client of stalled) {
      client.head({ token, length: 150 * KIB });
      client.send('{');
    }
    // 300 KiB of 400 KiB reserved: a third body of 150 KiB is over the token's budget.
    const overBudget = connect();
    overBudget.head({ token, length: 150 * KIB });
    const budgetAnswer = await overBudget.answer();
    expect(budgetAnswer.status).toBe(429);
    expect(budgetAnswer.headers).toMatch(/retry-after: 1/i);
    expect(JSON.parse(budgetAnswer.body)).toMatchObject({ error: { type: 'rate_limit_error' } });
    // A third small request fits the bytes; a fourth is over the 3 open requests.
    const third = connect();
    third.head({ token, length: 10 });
    third.send('{');
    const fourth = connect();
    fourth.head({ token, length: 10 });
    expect((await fourth.answer()).status).toBe(429);
    expect(gateway.stats().openRequests).toBe(3);
    const other = gateway.registerSession('modest');
    expect((await complete(other, messagesBody())).status).toBe(200);
    for (const client of [...stalled, third]) client.close();
    await expect.poll(() => gateway.stats().openRequests).toBe(0);
    expect(gateway.stats().bufferedBytes).toBe(0);
    expect(gateway.stats().refused.concurrency).toBeGreaterThanOrEqual(1);
    expect(gateway.stats().refused.in_flight_bytes).toBeGreaterThanOrEqual(1);
  });

  it('refuses query strings, unknown betas, mcp_servers, server tools and unknown fields with 400, never forwarding them', async () => {
    const token = gateway.registerSession('policy');
    const refusals: Array<[string, RawAnswer]> = [
      ['query', await complete(token, messagesBody(), { path: '/v1/messages?beta=true&url=http://169.254.169.254' })],
      ['beta', await complete(token, messagesBody(), { headers: { 'anthropic-beta': `${CLI_BETAS},mcp-client-2025-04-04` } })],
      ['mcp', await complete(token, messagesBody({ mcp_servers: [{ type: 'url', url: 'http://example.com/sse', name: 'x' }] }))],
      ['tool', await complete(token, messagesBody({ tools: [{ type: 'web_fetch_20250910', name: 'web_fetch' }] }))],
      ['field', await complete(token, messagesBody({ surprise: 1 }))],
      ['json', await complete(token, '{"model": "x",')],
      ['count_tokens', await complete(token, messagesBody({ mcp_servers: [] }), { path: '/v1/messages/count_tokens' })],
    ];
    for (const [label, answer] of refusals) {
      expect(answer.status, label).toBe(400);
      expect(JSON.parse(answer.body), label).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    }
    expect(model.requests).toHaveLength(0);
    const refused = gateway.stats().refused;
    expect(refused).toMatchObject({ query: 1, beta: 1, body_field: 1, invalid_json: 1 });
    expect(refused.server_tool).toBeGreaterThanOrEqual(3);
  });

  it('forwards server tools, mcp_servers and extra betas when configured', async () => {
    const permissive = await startGateway('permissive', { allowServerTools: true, allowedBetas: ['mcp-client-2025-04-04'] });
    try {
      const token = permissive.registerSession('s');
      const answer = await complete(token, messagesBody({ mcp_servers: [{ type: 'url', url: 'http://example.com/sse', name: 'x' }] }), {
        target: permissive,
        headers: { 'anthropic-beta': 'mcp-client-2025-04-04' },
      });
      expect(answer.status).toBe(200);
      expect(model.requests.at(-1)?.headers['anthropic-beta']).toBe('mcp-client-2025-04-04');
    } finally {
      await permissive.close();
    }
  });
});
