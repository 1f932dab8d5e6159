// End to end: HTTP request -> local sandbox -> the real Claude Code CLI -> gateway -> scripted model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertLocalSandboxGone } from '../helpers/sandbox-host.js';
import { startHarness, toolResultsSent, type Harness } from '../helpers/hangar-harness.js';
import { SseParser } from '../../src/client/sse-parser.js';

const UPSTREAM_KEY = 'sk-ant-e2e-files-upstream-key-0123456789';

describe('ephemeral task writing files', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({
      upstreamApiKey: UPSTREAM_KEY,
      scenario: {
        replies: [
          {
            content: [
              { type: 'text', text: 'Writing the first file.' },
              { type: 'tool_use', name: 'Bash', input: { command: 'echo "made by bash" > from-bash.txt && cat notes/input.txt', description: 'write a file' } },
            ],
          },
          {
            match: { lastToolResult: 'seed content' },
            content: [{ type: 'tool_use', name: 'Write', input: { file_path: '/workspace/docs/from-write.md', content: '# written by the Write tool\n' } }],
          },
          { content: [{ type: 'text', text: 'Both files are written.' }] },
        ],
        whenExhausted: { text: 'Nothing more to do.' },
      },
    });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('runs the agent in a sandbox, returns the result and the changed files, and leaves nothing behind', async () => {
    // Hangar filled its warm pool when it started.
    await harness.settled();
    const task = await harness.client.runTask({
      prompt: 'Write two files, one with Bash and one with Write.',
      allowedTools: ['Bash', 'Write'],
      maxTurns: 6,
      files: { 'notes/input.txt': 'seed content\n' },
    });
    expect(task.error).toBeNull();
    expect(task.status).toBe('succeeded');
    expect(task.result).toBe('Both files are written.');
    expect(task.numTurns).toBeGreaterThanOrEqual(3);

    const byPath = new Map(task.files.map((file) => [file.path, file]));
    expect(byPath.get('from-bash.txt')).toMatchObject({ change: 'created', content: 'made by bash\n', encoding: 'utf8' });
    expect(byPath.get('docs/from-write.md')).toMatchObject({ change: 'created', content: '# written by the Write tool\n' });
    expect(byPath.has('notes/input.txt')).toBe(false);

    // The CLI ran Bash inside the sandbox and sent the output back to the model.
    expect(toolResultsSent(harness.model).join('\n')).toContain('seed content');
    // The gateway metered real usage and priced it.
    expect(task.usage.inputTokens).toBeGreaterThan(0);
    expect(task.usage.outputTokens).toBeGreaterThan(0);
    expect(task.costUsd).toBeGreaterThan(0);
    // The model saw the real key, injected by the gateway; never the session token.
    const mainRequests = harness.model.requests.filter((request) => request.kind === 'main');
    expect(mainRequests.length).toBeGreaterThanOrEqual(3);
    for (const request of mainRequests) expect(request.headers['x-api-key']).toBe(`***${UPSTREAM_KEY.slice(-4)}`);
    // The agent was offered only the allowed tools (plus the CLI's internal placeholder).
    const offered = (mainRequests[0]!.body as { tools: Array<{ name: string }> }).tools.map((tool) => tool.name);
    expect(offered.filter((name) => name !== 'DeferredToolPlaceholder').sort()).toEqual(['Bash', 'Write']);

    // The task is stored and readable back.
    const stored = await harness.client.getTask(task.id);
    expect(stored.status).toBe('succeeded');
    expect(stored.files.map((file) => file.path).sort()).toEqual(['docs/from-write.md', 'from-bash.txt']);

    // Nothing of the sandbox remains: processes, cgroups, mounts, directories.
    const record = harness.sandboxes.get(task.sandbox?.sandboxId ?? '');
    expect(record).toBeDefined();
    expect(record?.pids.length).toBeGreaterThan(0);
    // Even the first task found a sandbox ready (filled when Hangar started), and its CLI started in
    // the launcher that was waiting there.
    expect(record?.spawned.filter((spawn) => spawn.command.endsWith('/claude')).map((spawn) => spawn.warm)).toEqual([true]);
    await assertLocalSandboxGone(record!.sandbox, record!.pids);
  });

  it('streams the SDK messages as server-sent events, then the result', async () => {
    harness.model.setScenario({ replies: [{ content: [{ type: 'text', text: 'streamed answer' }] }] });
    const response = await fetch(`${harness.baseUrl}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'say something', stream: true, allowedTools: ['Bash'] }),
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const parser = new SseParser();
    const events: Array<{ id?: string; event: string; data: unknown }> = [];
    for await (const chunk of response.body!) {
      for (const event of parser.push(chunk)) events.push({ ...(event.id ? { id: event.id } : {}), event: event.event, data: JSON.parse(event.data) });
    }
    expect(events[0]?.event).toBe('task');
    const messageTypes = events.filter((event) => event.event === 'message').map((event) => (event.data as { type: string }).type);
    expect(messageTypes[0]).toBe('system');
    expect(messageTypes).toContain('assistant');
    expect(messageTypes.at(-1)).toBe('result');
    const last = events.at(-1);
    expect(last?.event).toBe('result');
    expect(last?.data).toMatchObject({ status: 'succeeded', result: 'streamed answer' });
    expect(events.map((event) => Number(event.id))).toEqual(events.map((_, index) => index + 1));
  });

  it('answers 202 at once with wait=false and the task can be polled to completion', async () => {
    harness.model.setScenario({ replies: [{ delayMs: 300, content: [{ type: 'text', text: 'finished later' }] }] });
    const response = await fetch(`${harness.baseUrl}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'take your time', wait: false }),
    });
    expect(response.status).toBe(202);
    const accepted = (await response.json()) as { id: string; status: string };
    expect(accepted.status).toBe('running');
    let task = await harness.client.getTask(accepted.id);
    const deadline = Date.now() + 30_000;
    while (task.status === 'running' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      task = await harness.client.getTask(accepted.id);
    }
    expect(task).toMatchObject({ status: 'succeeded', result: 'finished later' });
  });
});
