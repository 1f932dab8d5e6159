// HTTP-level tests of the scripted model server: fetch against a real listening server.
import { request as httpRequest } from 'node:http';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Scenario } from '../../src/model/scenario.js';
import { startScriptedModelServer, type ScriptedModelServer } from '../../src/model/scripted-model-server.js';

const servers: ScriptedModelServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(scenario: Scenario, extra: { socketPath?: string } = {}): Promise<ScriptedModelServer> {
  const server = await startScriptedModelServer({ scenario, ...extra });
  servers.push(server);
  return server;
}

interface Body {
  model?: string;
  max_tokens?: number;
  messages?: unknown[];
  stream?: boolean;
  [key: string]: unknown;
}

function userTurn(text: string, extra: Body = {}): Body {
  return {
    model: 'claude-test-1',
    max_tokens: 1024,
    messages: [{ role: 'user', content: [{ type: 'text', text }] }],
    tools: [{ name: 'Bash', description: 'Run a command', input_schema: { type: 'object' } }],
    ...extra,
  };
}

function toolResultTurn(result: string, extra: Body = {}): Body {
  return {
    ...userTurn('ignored'),
    messages: [
      { role: 'user', content: 'run it' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: 'ls' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: result }] },
    ],
    ...extra,
  };
}

async function post(server: ScriptedModelServer, body: unknown, path = '/v1/messages?beta=true'): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'sk-secret-abcd', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify(body),
  });
}

interface ParsedEvent {
  event: string;
  data: Record<string, unknown>;
}

function parseSse(text: string): ParsedEvent[] {
  return text
    .split('\n\n')
    .filter((chunk) => chunk.trim() !== '')
    .map((chunk) => {
      const lines = chunk.split('\n');
      const event = lines.find((line) => line.startsWith('event: '))?.slice(7) ?? '';
      const data = lines.find((line) => line.startsWith('data: '))?.slice(6) ?? '{}';
      return { event, data: JSON.parse(data) as Record<string, unknown> };
    });
}

/** Rebuilds the content blocks of a streamed message from its deltas. */
function assemble(events: ParsedEvent[]): Array<Record<string, unknown>> {
  const blocks: Array<Record<string, unknown>> = [];
  const json: string[] = [];
  for (const { data } of events) {
    const index = data['index'] as number;
    if (data['type'] === 'content_block_start') {
      blocks[index] = { ...(data['content_block'] as Record<string, unknown>) };
      json[index] = '';
    } else if (data['type'] === 'content_block_delta') {
      const delta = data['delta'] as Record<string, string>;
      const block = blocks[index]!;
      if (delta['type'] === 'text_delta') block['text'] = `${block['text'] as string}${delta['text']}`;
      if (delta['type'] === 'thinking_delta') block['thinking'] = `${block['thinking'] as string}${delta['thinking']}`;
      if (delta['type'] === 'signature_delta') block['signature'] = delta['signature'];
      if (delta['type'] === 'input_json_delta') json[index] = `${json[index] ?? ''}${delta['partial_json'] ?? ''}`;
    } else if (data['type'] === 'content_block_stop' && blocks[index]?.['type'] === 'tool_use') {
      blocks[index]!['input'] = JSON.parse(json[index]!);
    }
  }
  return blocks;
}

async function streamOf(server: ScriptedModelServer, body: Body): Promise<ParsedEvent[]> {
  const response = await post(server, { ...body, stream: true });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  return parseSse(await response.text());
}

describe('scripted model server: streaming', () => {
  it('streams a text reply as the Anthropic SSE event sequence', async () => {
    const server = await start({ replies: [{ content: [{ type: 'text', text: 'Hello there, scripted world!' }] }] });
    const events = await streamOf(server, userTurn('hi'));

    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'ping',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    for (const { event, data } of events) expect(data['type']).toBe(event);
    const opening = events[0]!.data['message'] as Record<string, unknown>;
    expect(opening['id']).toMatch(/^msg_01[0-9A-Za-z]{22}$/);
    expect(opening).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-test-1', content: [] });
    expect(assemble(events)).toEqual([{ type: 'text', text: 'Hello there, scripted world!' }]);
    const delta = events.find((e) => e.event === 'message_delta')!.data;
    expect(delta['delta']).toEqual({ stop_reason: 'end_turn', stop_sequence: null });
    // 'Hello there, scripted world!' is 28 characters: 7 tokens.
    expect((delta['usage'] as Record<string, number>)['output_tokens']).toBe(7);
  });

  it('streams tool_use blocks with input_json_delta chunks and stop_reason tool_use', async () => {
    const input = { command: 'mkdir -p out && echo done > out/a.txt', description: 'make a file' };
    const server = await start({
      replies: [
        {
          content: [
            { type: 'thinking', thinking: 'Let me run a command.' },
            { type: 'text', text: 'Running it.' },
            { type: 'tool_use', name: 'Bash', input },
            { type: 'tool_use', name: 'Write', input: { file_path: 'b.txt', content: 'b' }, id: 'toolu_fixed' },
          ],
        },
      ],
    });
    const events = await streamOf(server, userTurn('go'));
    const blocks = assemble(events);

    expect(blocks).toHaveLength(4);
    expect(blocks[0]).toMatchObject({ type: 'thinking', thinking: 'Let me run a command.' });
    expect(blocks[0]!['signature']).toMatch(/^[A-Za-z0-9+/=]{40,}$/);
    expect(blocks[1]).toEqual({ type: 'text', text: 'Running it.' });
    expect(blocks[2]).toMatchObject({ type: 'tool_use', name: 'Bash', input });
    expect(blocks[2]!['id']).toMatch(/^toolu_01[0-9A-Za-z]{22}$/);
    expect(blocks[3]).toMatchObject({ type: 'tool_use', id: 'toolu_fixed', input: { file_path: 'b.txt', content: 'b' } });
    const jsonDeltas = events.filter((e) => e.event === 'content_block_delta' && e.data['index'] === 2);
    expect(jsonDeltas.length).toBeGreaterThan(1);
    const delta = events.find((e) => e.event === 'message_delta')!.data['delta'];
    expect(delta).toMatchObject({ stop_reason: 'tool_use' });
  });

  it('computes usage from the request and lets the reply override it', async () => {
    const body = userTurn('count me');
    const server = await start({
      replies: [
        { content: [{ type: 'text', text: 'a' }] },
        {
          content: [{ type: 'text', text: 'b' }],
          usage: { inputTokens: 11, outputTokens: 22, cacheCreationInputTokens: 33, cacheReadInputTokens: 44 },
        },
      ],
    });
    const expectedInput = Math.ceil((JSON.stringify('').length + JSON.stringify(body.messages).length + JSON.stringify(body['tools']).length) / 4);

    const first = (await streamOf(server, body))[0]!.data['message'] as { usage: Record<string, number> };
    expect(first.usage).toEqual({
      input_tokens: expectedInput,
      output_tokens: 1,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    });
    const second = await streamOf(server, body);
    const usage = second.find((e) => e.event === 'message_delta')!.data['usage'];
    expect(usage).toEqual({
      input_tokens: 11,
      output_tokens: 22,
      cache_creation_input_tokens: 33,
      cache_read_input_tokens: 44,
    });
  });

  it('answers a non-streaming request with the JSON Message', async () => {
    const server = await start({
      model: 'claude-scripted',
      replies: [{ content: [{ type: 'text', text: 'plain' }], stopReason: 'stop_sequence' }],
    });
    const response = await post(server, userTurn('hi'));
    expect(response.status).toBe(200);
    const message = (await response.json()) as Record<string, unknown>;
    expect(message).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'claude-scripted',
      content: [{ type: 'text', text: 'plain' }],
      stop_reason: 'stop_sequence',
      stop_sequence: null,
    });
    expect(message['id']).toMatch(/^msg_01/);
  });

  it('waits delayMs before answering and chunkDelayMs between events', async () => {
    const server = await start({
      replies: [{ content: [{ type: 'text', text: 'slowly' }], delayMs: 150, chunkDelayMs: 20 }],
    });
    const started = Date.now();
    const events = await streamOf(server, userTurn('hi'));
    expect(events).toHaveLength(9);
    // 150 ms before the response, then 8 gaps of 20 ms between the 9 events.
    expect(Date.now() - started).toBeGreaterThanOrEqual(150 + 8 * 20 - 10);
  });
});

describe('scripted model server: reply selection', () => {
  it('uses replies in order and honours times', async () => {
    const server = await start({
      replies: [{ content: [{ type: 'text', text: 'one' }], times: 2 }, { content: [{ type: 'text', text: 'two' }] }],
    });
    const texts: string[] = [];
    for (let i = 0; i < 3; i++) {
      const message = (await (await post(server, userTurn('x'))).json()) as { content: Array<{ text: string }> };
      texts.push(message.content[0]!.text);
    }
    expect(texts).toEqual(['one', 'one', 'two']);
    expect(server.replyUses()).toEqual([
      { index: 0, used: 2, times: 2 },
      { index: 1, used: 1, times: 1 },
    ]);
    expect(server.requests.map((r) => r.replyIndex)).toEqual([0, 0, 1]);
  });

  it('picks the first unused reply whose match fits', async () => {
    const server = await start({
      replies: [
        { match: { lastToolResult: '^ok$' }, content: [{ type: 'text', text: 'saw ok' }] },
        { match: { lastUserText: 'deploy' }, content: [{ type: 'text', text: 'deploying' }] },
        { match: { system: 'pirate' }, content: [{ type: 'text', text: 'arr' }] },
        { match: { model: 'haiku' }, content: [{ type: 'text', text: 'small' }] },
        { content: [{ type: 'text', text: 'fallback' }] },
      ],
    });
    const text = async (body: Body): Promise<string> => ((await (await post(server, body)).json()) as { content: Array<{ text: string }> }).content[0]!.text;

    expect(await text(userTurn('please deploy now'))).toBe('deploying');
    expect(await text(userTurn('hi', { model: 'claude-haiku-4-5' }))).toBe('small');
    expect(await text(userTurn('hi', { system: [{ type: 'text', text: 'You are a pirate.' }] }))).toBe('arr');
    expect(await text(toolResultTurn('not ok'))).toBe('fallback');
    expect(await text(toolResultTurn('ok'))).toBe('saw ok');
  });

  it('reads lastUserText without system reminders and lastToolResult from block content', async () => {
    const server = await start({
      replies: [
        { match: { lastUserText: '^real prompt$' }, content: [{ type: 'text', text: 'matched' }] },
        { match: { lastToolResult: 'line two' }, content: [{ type: 'text', text: 'blocks' }] },
      ],
    });
    const reminder = userTurn('x', {
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: '<system-reminder>\nsome context\n</system-reminder>' },
            { type: 'text', text: 'real prompt' },
          ],
        },
        { role: 'system', content: 'environment details' },
      ],
    });
    expect((await post(server, reminder)).status).toBe(200);
    const blockResult = toolResultTurn('', {
      messages: [
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 't',
              content: [
                { type: 'text', text: 'line one' },
                { type: 'text', text: 'line two' },
              ],
            },
          ],
        },
      ],
    });
    expect((await post(server, blockResult)).status).toBe(200);
    expect(server.requests.map((r) => r.replyIndex)).toEqual([0, 1]);
  });

  it('answers 500 with x-should-retry: false once the script is exhausted (default)', async () => {
    const server = await start({ replies: [{ content: [{ type: 'text', text: 'only' }] }] });
    await post(server, userTurn('a'));
    const response = await post(server, userTurn('b'));
    expect(response.status).toBe(500);
    expect(response.headers.get('x-should-retry')).toBe('false');
    const body = (await response.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('api_error');
    expect(body.error.message).toMatch(/exhausted/);
    // It says how to start over and how to loop.
    expect(body.error.message).toMatch(
      /restarting `hangar model serve` or with POST \/_scripted\/reset; to loop, serve it with --loop or set "whenExhausted": "restart"/,
    );
    expect(server.requests[1]!.outcome).toBe('exhausted');

    expect(await (await fetch(`${server.url}/_scripted/reset`, { method: 'POST' })).json()).toEqual({ ok: true, replies: 1 });
    expect((await post(server, userTurn('c'))).status).toBe(200);
  });

  it('starts the script over when exhausted with "restart"', async () => {
    const server = await start({
      replies: [{ content: [{ type: 'text', text: 'first' }] }, { match: { lastUserText: 'second' }, content: [{ type: 'text', text: 'second' }] }],
      whenExhausted: 'restart',
    });
    const texts: string[] = [];
    for (const prompt of ['one', 'second', 'again', 'second']) {
      texts.push(((await (await post(server, userTurn(prompt))).json()) as { content: Array<{ text: string }> }).content[0]!.text);
    }
    expect(texts).toEqual(['first', 'second', 'first', 'second']);
    // Nothing fits even from the start: exhausted, not a loop.
    const none = await start({ replies: [{ match: { lastUserText: 'never' }, content: [{ type: 'text', text: 'x' }] }], whenExhausted: 'restart' });
    expect((await post(none, userTurn('other'))).status).toBe(500);
  });

  it('repeats the last reply or sends a fixed text when exhausted, as configured', async () => {
    const repeat = await start({
      replies: [{ content: [{ type: 'text', text: 'first' }] }, { content: [{ type: 'text', text: 'last' }] }],
      whenExhausted: 'repeat-last',
    });
    const texts: string[] = [];
    for (let i = 0; i < 4; i++) {
      texts.push(((await (await post(repeat, userTurn('x'))).json()) as { content: Array<{ text: string }> }).content[0]!.text);
    }
    expect(texts).toEqual(['first', 'last', 'last', 'last']);

    const fixed = await start({ replies: [], whenExhausted: { text: 'nothing more' } });
    const message = (await (await post(fixed, userTurn('x'))).json()) as { content: unknown[]; stop_reason: string };
    expect(message.content).toEqual([{ type: 'text', text: 'nothing more' }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(fixed.requests[0]!.replyIndex).toBe(-1);
  });
});

describe('scripted model server: faults', () => {
  it('answers an HTTP fault with the Anthropic error body and retry-after, then succeeds', async () => {
    const server = await start({
      replies: [
        { fault: { status: 529, retryAfterSec: 0 }, times: 2 },
        { fault: { status: 429, retryAfterSec: 3, message: 'slow down', shouldRetry: true } },
        { content: [{ type: 'text', text: 'finally' }] },
      ],
    });
    for (let i = 0; i < 2; i++) {
      const response = await post(server, userTurn('x'));
      expect(response.status).toBe(529);
      expect(response.headers.get('retry-after')).toBe('0');
      expect(response.headers.get('request-id')).toMatch(/^req_01/);
      const body = (await response.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    }
    const limited = await post(server, userTurn('x'));
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    expect(limited.headers.get('x-should-retry')).toBe('true');
    expect(await limited.json()).toMatchObject({ error: { type: 'rate_limit_error', message: 'slow down' } });
    expect((await post(server, userTurn('x'))).status).toBe(200);
    expect(server.requests.map((r) => r.outcome)).toEqual(['fault', 'fault', 'fault', 'message']);
  });

  it('cuts the stream after the given number of events', async () => {
    const server = await start({
      replies: [{ content: [{ type: 'text', text: 'this will be cut off' }], fault: { cutAfterEvents: 3 } }, { content: [{ type: 'text', text: 'whole' }] }],
    });
    const response = await post(server, { ...userTurn('x'), stream: true });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let received = '';
    let failed = false;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        received += decoder.decode(value, { stream: true });
      }
    } catch {
      failed = true;
    }
    expect(failed).toBe(true);
    expect(parseSse(received).map((e) => e.event)).toEqual(['message_start', 'ping', 'content_block_start']);
    expect(server.requests[0]!.outcome).toBe('cut');

    const events = await streamOf(server, userTurn('again'));
    expect(events.at(-1)!.event).toBe('message_stop');
  });
});

describe('scripted model server: cut edge cases', () => {
  it('sends the status line for a cut after 0 events and drops a non-streaming request', async () => {
    const server = await start({
      replies: [
        { content: [{ type: 'text', text: 'x' }], fault: { cutAfterEvents: 0 } },
        { content: [{ type: 'text', text: 'x' }], fault: { cutAfterEvents: 0 } },
      ],
    });
    const response = await post(server, { ...userTurn('x'), stream: true });
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
    await expect(post(server, userTurn('x'))).rejects.toThrow();
    expect(server.requests.map((r) => r.outcome)).toEqual(['cut', 'cut']);
  });

  it('keeps at most maxRecordedRequests requests', async () => {
    const server = await startScriptedModelServer({
      scenario: { replies: [], whenExhausted: { text: 'x' } },
      maxRecordedRequests: 2,
    });
    servers.push(server);
    for (let i = 0; i < 4; i++) await post(server, userTurn(`n${i}`));
    expect(server.requests.map((r) => r.seq)).toEqual([3, 4]);
  });
});

describe('scripted model server: auxiliary requests', () => {
  const titleRequest: Body = {
    model: 'claude-test-1',
    max_tokens: 128000,
    stream: true,
    tools: [],
    system: [{ type: 'text', text: 'You are naming a coding session so the user can pick it out.' }],
    messages: [{ role: 'user', content: [{ type: 'text', text: '<session>\nfix the bug\n</session>' }] }],
    output_config: {
      effort: 'medium',
      format: {
        type: 'json_schema',
        schema: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] },
      },
    },
  };

  it('answers a structured side request with JSON matching its schema, without using the script', async () => {
    const server = await start({ replies: [{ content: [{ type: 'text', text: 'main reply' }] }] });
    const events = await streamOf(server, titleRequest);
    const [block] = assemble(events);
    expect(JSON.parse(block!['text'] as string)).toEqual({ title: 'Scripted session' });

    const quota = await post(server, userTurn('quota', { max_tokens: 1 }));
    expect(quota.status).toBe(200);

    const main = (await (await post(server, userTurn('go'))).json()) as { content: Array<{ text: string }> };
    expect(main.content[0]!.text).toBe('main reply');
    expect(server.requests.map((r) => [r.kind, r.outcome])).toEqual([
      ['auxiliary', 'auxiliary-default'],
      ['auxiliary', 'auxiliary-default'],
      ['main', 'message'],
    ]);
    expect(server.requests[0]!.auxiliaryReason).toMatch(/structured output/);
    expect(server.requests[1]!.auxiliaryReason).toMatch(/max_tokens/);
  });

  it('lets replies with match.kind script auxiliary requests', async () => {
    const server = await start({
      replies: [
        { match: { kind: 'auxiliary', system: 'naming a coding session' }, content: [{ type: 'text', text: '{"title":"Bug fix"}' }] },
        { match: { kind: 'any' }, content: [{ type: 'text', text: 'either' }] },
        { content: [{ type: 'text', text: 'main' }] },
      ],
    });
    const first = assemble(await streamOf(server, titleRequest));
    expect(first[0]!['text']).toBe('{"title":"Bug fix"}');
    const second = assemble(await streamOf(server, titleRequest));
    expect(second[0]!['text']).toBe('either');
    const third = assemble(await streamOf(server, titleRequest));
    expect(JSON.parse(third[0]!['text'] as string)).toEqual({ title: 'Scripted session' });
    const main = assemble(await streamOf(server, userTurn('go')));
    expect(main[0]!['text']).toBe('main');
  });

  it("sends every request through the script with auxiliary: 'script'", async () => {
    const server = await start({
      auxiliary: 'script',
      replies: [{ content: [{ type: 'text', text: 'scripted title' }] }],
    });
    const events = await streamOf(server, titleRequest);
    expect(assemble(events)[0]!['text']).toBe('scripted title');
    expect(server.requests[0]!.kind).toBe('main');
  });
});

describe('scripted model server: API surface', () => {
  it('rejects requests missing model, messages or max_tokens with invalid_request_error', async () => {
    const server = await start({ replies: [] });
    for (const field of ['model', 'messages', 'max_tokens'] as const) {
      const body: Body = userTurn('x');
      delete body[field];
      const response = await post(server, body);
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({
        type: 'error',
        error: { type: 'invalid_request_error', message: `${field}: Field required` },
        request_id: expect.stringMatching(/^req_01/),
      });
    }
    const broken = await fetch(`${server.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(server.requests.every((r) => r.outcome === 'invalid')).toBe(true);
  });

  it('counts tokens', async () => {
    const server = await start({ replies: [] });
    const body = userTurn('count these tokens please');
    delete body.max_tokens;
    const response = await post(server, body, '/v1/messages/count_tokens?beta=true');
    expect(response.status).toBe(200);
    const { input_tokens } = (await response.json()) as { input_tokens: number };
    expect(input_tokens).toBeGreaterThan(10);
    expect(server.requests[0]).toMatchObject({ kind: 'count_tokens', outcome: 'count-tokens' });
  });

  it('answers unknown paths with an Anthropic not_found_error', async () => {
    const server = await start({ replies: [] });
    const response = await fetch(`${server.url}/v1/models`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    expect(server.requests[0]).toMatchObject({ method: 'GET', path: '/v1/models', outcome: 'not-found' });
  });

  it('logs one line per request to the given pino logger', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString());
        callback();
      },
    });
    const server = await startScriptedModelServer({
      scenario: { replies: [{ content: [{ type: 'text', text: 'hi' }] }] },
      logger: pino({ level: 'info' }, sink),
    });
    servers.push(server);
    await post(server, userTurn('x'));
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.filter((e) => e['msg'] === 'scripted model request')).toEqual([
      expect.objectContaining({ seq: 1, kind: 'main', replyIndex: 0, outcome: 'message', status: 200 }),
    ]);
  });

  it('records requests with redacted credentials', async () => {
    const server = await start({ replies: [{ content: [{ type: 'text', text: 'hi' }] }] });
    await fetch(`${server.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': 'sk-ant-secret-9876',
        authorization: 'Bearer token-xyz1',
      },
      body: JSON.stringify(userTurn('record me')),
    });
    const [recorded] = server.requests;
    expect(recorded).toMatchObject({
      seq: 1,
      method: 'POST',
      path: '/v1/messages?beta=true',
      kind: 'main',
      replyIndex: 0,
      outcome: 'message',
      status: 200,
      stream: false,
    });
    expect(recorded!.headers['x-api-key']).toBe('***9876');
    expect(recorded!.headers['authorization']).toBe('***xyz1');
    expect(JSON.stringify(recorded)).not.toContain('secret');
    expect(recorded!.body).toMatchObject({ model: 'claude-test-1' });
    expect(Number.isNaN(Date.parse(recorded!.time))).toBe(false);
  });
});

describe('scripted model server: control endpoints', () => {
  it('serves recorded requests and replaces the scenario over HTTP', async () => {
    const server = await start({ replies: [{ content: [{ type: 'text', text: 'old' }] }] });
    await post(server, userTurn('one'));

    const listed = (await (await fetch(`${server.url}/_scripted/requests`)).json()) as { requests: unknown[] };
    expect(listed.requests).toHaveLength(1);

    const replaced = await fetch(`${server.url}/_scripted/scenario`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ replies: [{ content: [{ type: 'text', text: 'new' }] }] }),
    });
    expect(replaced.status).toBe(200);
    expect(server.requests).toHaveLength(0);
    const message = (await (await post(server, userTurn('two'))).json()) as { content: Array<{ text: string }> };
    expect(message.content[0]!.text).toBe('new');

    const state = (await (await fetch(`${server.url}/_scripted/scenario`)).json()) as { uses: unknown[] };
    expect(state.uses).toEqual([{ index: 0, used: 1, times: 1 }]);

    const invalid = await fetch(`${server.url}/_scripted/scenario`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ replies: [{ fault: { status: 99 } }] }),
    });
    expect(invalid.status).toBe(400);
    const error = (await invalid.json()) as { error: { code: string; message: string } };
    expect(error.error.code).toBe('SCENARIO_INVALID');
    expect(error.error.message).toContain('replies.0.fault');

    const cleared = await fetch(`${server.url}/_scripted/requests`, { method: 'DELETE' });
    expect(cleared.status).toBe(200);
    expect(server.requests).toHaveLength(0);
  });

  it('setScenario resets uses and recorded requests in-process', async () => {
    const server = await start({ replies: [{ content: [{ type: 'text', text: 'a' }] }] });
    await post(server, userTurn('x'));
    expect((await post(server, userTurn('x'))).status).toBe(500);
    server.setScenario({ replies: [{ content: [{ type: 'text', text: 'b' }] }] });
    expect(server.requests).toHaveLength(0);
    expect((await post(server, userTurn('x'))).status).toBe(200);
  });
});

describe('scripted model server: unix socket', () => {
  it('answers on a unix socket path too and removes it on close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hangar-model-'));
    try {
      const socketPath = join(dir, 'model.sock');
      const server = await start({ replies: [{ content: [{ type: 'text', text: 'over the socket' }] }] }, { socketPath });
      const body = await new Promise<string>((resolve, reject) => {
        const req = httpRequest({ socketPath, path: '/v1/messages', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.end(JSON.stringify(userTurn('x')));
      });
      expect(JSON.parse(body)).toMatchObject({ content: [{ type: 'text', text: 'over the socket' }] });
      await server.close();
      servers.splice(servers.indexOf(server), 1);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
