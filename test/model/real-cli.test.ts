// The real Claude Code CLI (through the Agent SDK's query(), unsandboxed on the host) against the
// scripted model server: a scripted Bash + Write task completes, the CLI's tool results reach the
// server, retries behave as measured, and side requests do not consume the script.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { query, type SDKMessage, type SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { loadScenarioFile, type Scenario } from '../../src/model/scenario.js';
import { startScriptedModelServer, type RecordedRequest, type ScriptedModelServer } from '../../src/model/scripted-model-server.js';

const scenariosDir = fileURLToPath(new URL('../../scenarios/', import.meta.url));

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(scenario: Scenario, socketPath?: string): Promise<ScriptedModelServer> {
  const server = await startScriptedModelServer({ scenario, ...(socketPath === undefined ? {} : { socketPath }) });
  cleanups.push(() => server.close());
  return server;
}

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

interface RunResult {
  cwd: string;
  messages: SDKMessage[];
  result: SDKResultMessage | undefined;
  /** What query() threw, if anything (it throws after an error result). */
  thrown: Error | undefined;
  initMs: number | undefined;
  resultMs: number | undefined;
}

/** Runs one prompt through the real CLI with the server as its model. env replaces process.env. */
async function run(
  server: ScriptedModelServer,
  prompt: string,
  options: { env?: Record<string, string | undefined>; maxTurns?: number } = {},
): Promise<RunResult> {
  const cwd = await tempDir('hangar-cli-cwd-');
  const home = await tempDir('hangar-cli-home-');
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: home,
    ANTHROPIC_BASE_URL: server.url,
    ANTHROPIC_API_KEY: 'test-key',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  };
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  const started = Date.now();
  const out: RunResult = { cwd, messages: [], result: undefined, thrown: undefined, initMs: undefined, resultMs: undefined };
  const q = query({
    prompt,
    options: { cwd, env, allowedTools: ['Bash', 'Write'], maxTurns: options.maxTurns ?? 6, settingSources: [] },
  });
  try {
    for await (const message of q) {
      out.messages.push(message);
      if (message.type === 'system' && message.subtype === 'init') out.initMs = Date.now() - started;
      if (message.type === 'result') {
        out.result = message;
        out.resultMs = Date.now() - started;
      }
    }
  } catch (error) {
    out.thrown = error as Error;
  } finally {
    q.close();
  }
  return out;
}

function mainRequests(server: ScriptedModelServer): RecordedRequest[] {
  return server.requests.filter((r) => r.kind === 'main');
}

interface WireMessage {
  role: string;
  content: string | Array<Record<string, unknown>>;
}

function lastMessage(request: RecordedRequest): WireMessage {
  const messages = (request.body as { messages: WireMessage[] }).messages;
  return messages[messages.length - 1]!;
}

describe('real Claude Code CLI against the scripted model server', () => {
  it('completes the scripted Bash + Write task and sends the tool results back', async () => {
    const server = await startServer(await loadScenarioFile(join(scenariosDir, 'write-file.json')));
    const out = await run(server, 'Create out/bash.txt with Bash, then out/notes.md with Write.');

    expect(out.thrown).toBeUndefined();
    expect(out.result).toMatchObject({ subtype: 'success', is_error: false, num_turns: 3 });
    expect(out.result?.subtype === 'success' ? out.result.result : '').toBe('Done: out/bash.txt and out/notes.md are in place.');
    expect(await readFile(join(out.cwd, 'out/bash.txt'), 'utf8')).toBe('hello from bash\n');
    expect(await readFile(join(out.cwd, 'out/notes.md'), 'utf8')).toBe('# Notes\n\nWritten by the scripted model.\n');

    const requests = mainRequests(server);
    expect(requests.map((r) => r.replyIndex)).toEqual([0, 1, 2]);
    expect(server.requests.every((r) => r.kind === 'main' && r.outcome === 'message')).toBe(true);
    for (const request of requests) {
      expect(request.path).toBe('/v1/messages?beta=true');
      expect(request.stream).toBe(true);
      expect(request.headers['x-api-key']).toBe('***-key');
      const body = request.body as { tools: Array<{ name: string }>; max_tokens: number };
      expect(body.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['Bash', 'Write']));
    }

    // The tool_use ids the CLI received come back in its tool_result blocks.
    const toolUseIds = out.messages.flatMap((m) =>
      m.type === 'assistant' ? m.message.content.flatMap((block) => (block.type === 'tool_use' ? [block.id] : [])) : [],
    );
    expect(toolUseIds).toHaveLength(2);
    const bashResult = lastMessage(requests[1]!);
    expect(bashResult.role).toBe('user');
    expect(bashResult.content).toEqual([
      expect.objectContaining({ type: 'tool_result', tool_use_id: toolUseIds[0], content: 'hello from bash', is_error: false }),
    ]);
    const writeResult = lastMessage(requests[2]!);
    expect(writeResult.content).toEqual([
      expect.objectContaining({
        type: 'tool_result',
        tool_use_id: toolUseIds[1],
        content: expect.stringContaining('File created successfully at: out/notes.md'),
      }),
    ]);
  });

  it('sends exactly one streamed main request for a one-reply prompt', async () => {
    const server = await startServer(await loadScenarioFile(join(scenariosDir, 'hello-world.json')));
    const out = await run(server, 'Say hello');

    expect(out.result).toMatchObject({ subtype: 'success', is_error: false, num_turns: 1 });
    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request).toMatchObject({ method: 'POST', path: '/v1/messages?beta=true', kind: 'main', stream: true });
    const body = request!.body as { model: string; max_tokens: number; messages: WireMessage[]; tools: unknown[] };
    expect(body.tools.length).toBeGreaterThan(0);
    expect(body.messages[0]!.role).toBe('user');
    // The CLI's usage total is what the server reported for its one request.
    expect(out.result?.usage.input_tokens).toBeGreaterThan(1000);
  });

  it('retries a 529 on its own and finishes the task', async () => {
    const server = await startServer(await loadScenarioFile(join(scenariosDir, 'fault-then-success.json')));
    const out = await run(server, 'Say something');

    expect(out.result).toMatchObject({ subtype: 'success', is_error: false });
    expect(out.result?.subtype === 'success' ? out.result.result : '').toBe('Recovered after an overload and a dropped stream.');
    expect(server.requests.map((r) => [r.outcome, r.status])).toEqual([
      ['fault', 529],
      ['cut', 200],
      ['message', 200],
    ]);
    const retries = out.messages.filter((m) => m.type === 'system' && m.subtype === 'api_retry');
    expect(retries).toHaveLength(2);
    expect(retries[0]).toMatchObject({ attempt: 1, error_status: 529 });
  });

  it('gives up after CLAUDE_CODE_MAX_RETRIES retries of a persistent 500', async () => {
    const server = await startServer({ replies: [{ fault: { status: 500, retryAfterSec: 0 }, times: 50 }] });
    const started = Date.now();
    const out = await run(server, 'Say something', { env: { CLAUDE_CODE_MAX_RETRIES: '1' } });

    expect(out.result).toMatchObject({ is_error: true });
    expect(out.thrown?.message).toMatch(/API Error: 500/);
    expect(server.requests).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('stops at once when the script is exhausted (x-should-retry: false)', async () => {
    const server = await startServer({ replies: [] });
    const out = await run(server, 'Say something');

    expect(out.result).toMatchObject({ is_error: true });
    expect(out.thrown?.message).toMatch(/scenario exhausted/);
    expect(server.requests.map((r) => r.outcome)).toEqual(['exhausted']);
  });

  it('answers the session-title side request without consuming the script', async () => {
    const server = await startServer(await loadScenarioFile(join(scenariosDir, 'write-file.json')));
    const out = await run(server, 'Create out/bash.txt with Bash, then out/notes.md with Write, in this order please.', {
      env: { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: undefined },
    });

    expect(out.result).toMatchObject({ subtype: 'success', is_error: false, num_turns: 3 });
    expect(mainRequests(server).map((r) => r.replyIndex)).toEqual([0, 1, 2]);
    const side = server.requests.filter((r) => r.kind !== 'main');
    for (const request of side) {
      expect(['auxiliary-default', 'not-found']).toContain(request.outcome);
    }
    const title = side.find((r) => r.kind === 'auxiliary');
    expect(title?.auxiliaryReason).toMatch(/structured output/);
  });

  it('reaches the server over ANTHROPIC_UNIX_SOCKET', async () => {
    const dir = await tempDir('hangar-cli-sock-');
    const server = await startServer({ replies: [{ content: [{ type: 'text', text: 'over the socket' }] }] }, join(dir, 'model.sock'));
    const out = await run(server, 'Say hello', {
      env: { ANTHROPIC_UNIX_SOCKET: join(dir, 'model.sock'), ANTHROPIC_BASE_URL: 'http://localhost' },
    });

    expect(out.result?.subtype === 'success' ? out.result.result : '').toBe('over the socket');
    expect(server.requests).toHaveLength(1);
  });
});
