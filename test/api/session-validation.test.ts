// Refused session and task requests leave nothing behind; closed and over-budget sessions refuse
// actions in the documented format; documented-optional bodies may be left out.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHangar, type Hangar } from '../../src/app.js';
import { parseConfig } from '../../src/config/config.js';
import { HangarError } from '../../src/errors/errors.js';
import { createInMemorySandboxProvider, type InMemorySandboxProvider } from '../../src/sandbox/providers/in-memory.js';
import type { Sandbox } from '../../src/sandbox/sandbox-provider.js';

type Answer = { statusCode: number; json: () => unknown };

function expectError(answer: Answer, status: number, code: string, messagePattern?: RegExp): { code: string; message: string; details?: unknown } {
  const body = answer.json() as { error: { code: string; message: string; details?: unknown } };
  expect(answer.statusCode, JSON.stringify(body)).toBe(status);
  expect(body.error.code).toBe(code);
  if (messagePattern) expect(body.error.message).toMatch(messagePattern);
  return body.error;
}

describe('session and task requests: validation before anything is created', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-api-sessions-'));
  let provider: InMemorySandboxProvider;
  /** Paths whose writeFile fails as a full disk would (what validation cannot foresee). */
  const failingWrites = new Set<string>();
  let created = 0;
  let hangar: Hangar;

  beforeAll(async () => {
    provider = createInMemorySandboxProvider();
    const counting = {
      ...provider,
      async create(spec: Parameters<InMemorySandboxProvider['create']>[0]): Promise<Sandbox> {
        created += 1;
        const sandbox = await provider.create(spec);
        const writeFile = sandbox.writeFile.bind(sandbox);
        sandbox.writeFile = async (file, content) => {
          if (failingWrites.has(file)) throw new HangarError('SANDBOX_FAILED', `workspace is full (disk limit reached) writing ${file}`);
          return writeFile(file, content);
        };
        return sandbox;
      },
    };
    // Requests here test validation and error answers without keys; test/api/auth.test.ts covers keys.
    const config = parseConfig({ dataDir: directory, logLevel: 'silent', auth: { mode: 'none' } });
    hangar = await createHangar(config, { logger: pino({ level: 'silent' }), sandboxProvider: counting });
  });
  afterAll(async () => {
    await hangar.close();
    rmSync(directory, { recursive: true, force: true });
  });

  const request = (method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown) =>
    hangar.app.inject({ method, url, ...(body !== undefined ? { payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  const sessionCount = async () => ((await request('GET', '/v1/sessions?limit=500')).json() as { sessions: unknown[] }).sessions.length;
  const taskCount = async () => ((await request('GET', '/v1/tasks?limit=500')).json() as { tasks: unknown[] }).tasks.length;

  it('refuses bad session files with 400 and leaves no session and no sandbox', async () => {
    const sessionsBefore = await sessionCount();
    const createdBefore = created;
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ '.': 'x' }, /file "\.": the path names the workspace itself/],
      [{ a: 'x', 'a/b': 'y' }, /file "a": is a file and also a parent directory of "a\/b"/],
      [{ 'x.txt': '1', './x.txt': '2' }, /names the same file/],
      [{ 'dir/': 'x' }, /names a directory/],
      [{ '../up': 'x' }, /leaves the workspace/],
    ];
    for (const [files, pattern] of cases) {
      for (const pattern_ of ['long-running', 'hybrid'] as const) {
        const error = expectError(await request('POST', '/v1/sessions', { pattern: pattern_, files }), 400, 'VALIDATION_FAILED', pattern);
        expect(error.details).toEqual([expect.objectContaining({ in: 'body', path: 'files' })]);
      }
    }
    // Files that do not fit the disk asked for.
    expectError(
      await request('POST', '/v1/sessions', {
        pattern: 'long-running',
        resources: { diskMb: 8 },
        files: Object.fromEntries(Array.from({ length: 3000 }, (_, index) => [`f${index}`, 'x'])),
      }),
      400,
      'VALIDATION_FAILED',
      /disk limit of 8 MiB/,
    );
    expect(await sessionCount()).toBe(sessionsBefore);
    expect(created).toBe(createdBefore);
    expect(provider.sandboxes.size).toBe(0);
  });

  it('refuses the same files on POST /v1/tasks with 400 in every mode, recording no task', async () => {
    const tasksBefore = await taskCount();
    const createdBefore = created;
    for (const mode of [{}, { wait: false }, { stream: true }]) {
      expectError(await request('POST', '/v1/tasks', { prompt: 'hi', files: { '.': 'x' }, ...mode }), 400, 'VALIDATION_FAILED', /names the workspace itself/);
      expectError(await request('POST', '/v1/tasks', { prompt: 'hi', files: { a: 'x', 'a/b': 'y' }, ...mode }), 400, 'VALIDATION_FAILED', /parent directory/);
      expectError(
        await request('POST', '/v1/tasks', { prompt: 'hi', resources: { diskMb: 8 }, files: { big: 'x'.repeat(9 * 1024 * 1024) }, ...mode }),
        400,
        'VALIDATION_FAILED',
        /disk limit/,
      );
    }
    expect(await taskCount()).toBe(tasksBefore);
    expect(created).toBe(createdBefore);
  });

  it('a create whose files fail to write after validation keeps no sandbox: the session is failed, with the reason', async () => {
    failingWrites.add('full.txt');
    try {
      expectError(await request('POST', '/v1/sessions', { pattern: 'long-running', files: { 'full.txt': 'x' } }), 500, 'SANDBOX_FAILED', /disk limit/);
    } finally {
      failingWrites.delete('full.txt');
    }
    expect(provider.sandboxes.size).toBe(0);
    const sessions = (
      (await request('GET', '/v1/sessions?limit=1')).json() as { sessions: Array<{ status: string; error: { code: string; message: string } }> }
    ).sessions;
    expect(sessions[0]?.status).toBe('failed');
    expect(sessions[0]?.error.message).toMatch(/writing the initial files failed/);
  });

  it('takes permission rules in allowedTools and disallowedTools, and pids within the maximum', async () => {
    const created = await request('POST', '/v1/sessions', {
      pattern: 'hybrid',
      allowedTools: ['Read(./src/**)', 'Bash(npm test:*)', 'Bash(git log:*)', 'mcp__github__get_issue'],
      disallowedTools: ['WebFetch', 'Bash(rm:*)'],
      resources: { pids: 256 },
    });
    expect(created.statusCode, created.body).toBe(201);
    const options = (created.json() as { options: Record<string, unknown> }).options;
    expect(options).toMatchObject({
      allowedTools: ['Read(./src/**)', 'Bash(npm test:*)', 'Bash(git log:*)', 'mcp__github__get_issue'],
      disallowedTools: ['WebFetch', 'Bash(rm:*)'],
    });
    expect(options.resources).toMatchObject({ pids: 256 });
    const before = await sessionCount();
    expectError(
      await request('POST', '/v1/sessions', { pattern: 'hybrid', disallowedTools: ['Bash(rm'] }),
      400,
      'VALIDATION_FAILED',
      /disallowedTools\.0: "Bash\(rm" is not a tool name or permission rule/,
    );
    expectError(await request('POST', '/v1/sessions', { pattern: 'hybrid', resources: { pids: 1_000_000 } }), 400, 'VALIDATION_FAILED', /resources\.pids/);
    expect(await sessionCount()).toBe(before);
  });

  it('lists shared sandboxes: GET /v1/sandboxes, with their sessions, filtered by status', async () => {
    const sandbox = (await request('POST', '/v1/sandboxes', {})).json() as { id: string };
    const member = (await request('POST', '/v1/sessions', { pattern: 'long-running', sandboxId: sandbox.id })).json() as { id: string };
    const active = (await request('GET', '/v1/sandboxes?status=active')).json() as { sandboxes: Array<{ id: string; status: string; sessions: string[] }> };
    expect(active.sandboxes.find((entry) => entry.id === sandbox.id)).toMatchObject({ status: 'active', sessions: [member.id] });
    await request('DELETE', `/v1/sandboxes/${sandbox.id}`);
    const closed = (await request('GET', '/v1/sandboxes?status=closed')).json() as { sandboxes: Array<{ id: string }> };
    expect(closed.sandboxes.map((entry) => entry.id)).toContain(sandbox.id);
    expect(
      ((await request('GET', '/v1/sandboxes?status=active')).json() as { sandboxes: Array<{ id: string }> }).sandboxes.map((entry) => entry.id),
    ).not.toContain(sandbox.id);
    expectError(await request('GET', '/v1/sandboxes?status=gone'), 400, 'VALIDATION_FAILED', /querystring\.status/);
  });

  it('takes no body for the documented-optional bodies: fork and POST /v1/sandboxes', async () => {
    const sandboxNoBody = await hangar.app.inject({ method: 'POST', url: '/v1/sandboxes' });
    expect(sandboxNoBody.statusCode, sandboxNoBody.body).toBe(201);
    const sandboxEmpty = await hangar.app.inject({ method: 'POST', url: '/v1/sandboxes', headers: { 'content-type': 'application/json' }, payload: '' });
    expect(sandboxEmpty.statusCode, sandboxEmpty.body).toBe(201);
    for (const answer of [sandboxNoBody, sandboxEmpty]) await request('DELETE', `/v1/sandboxes/${(answer.json() as { id: string }).id}`);

    // A session with no turn yet has no checkpoint: the answer is about that, not about the body.
    const session = (await request('POST', '/v1/sessions', { pattern: 'hybrid' })).json() as { id: string };
    expectError(await hangar.app.inject({ method: 'POST', url: `/v1/sessions/${session.id}/fork` }), 409, 'NO_CHECKPOINT');
    expectError(
      await hangar.app.inject({ method: 'POST', url: `/v1/sessions/${session.id}/fork`, headers: { 'content-type': 'application/json' }, payload: '' }),
      409,
      'NO_CHECKPOINT',
    );
    // A body that is there is still checked.
    expectError(await request('POST', `/v1/sessions/${session.id}/fork`, { checkpoint: 'x' }), 400, 'VALIDATION_FAILED', /body\.checkpoint: unknown field/);
  });

  it('refuses hibernate, interrupt and messages on a closed session: 409 SESSION_CLOSED', async () => {
    const session = (await request('POST', '/v1/sessions', { pattern: 'long-running' })).json() as { id: string };
    expect((await request('DELETE', `/v1/sessions/${session.id}`)).statusCode).toBe(200);
    expectError(await request('POST', `/v1/sessions/${session.id}/hibernate`), 409, 'SESSION_CLOSED', /closed/);
    expectError(await request('POST', `/v1/sessions/${session.id}/interrupt`), 409, 'SESSION_CLOSED', /closed/);
    expectError(await request('POST', `/v1/sessions/${session.id}/messages`, { prompt: 'hi' }), 409, 'SESSION_CLOSED');
    expectError(await request('POST', `/v1/sessions/sess_nope/hibernate`), 404, 'SESSION_NOT_FOUND');
    // Closing again stays idempotent.
    expect((await request('DELETE', `/v1/sessions/${session.id}`)).statusCode).toBe(200);
  });

  it('refuses a message to a session over its budget: 402 BUDGET_EXCEEDED, nothing queued', async () => {
    const session = (await request('POST', '/v1/sessions', { pattern: 'hybrid', maxBudgetUsd: 0.5 })).json() as { id: string };
    await hangar.store.sessions.update(session.id, { costUsd: 0.5 });
    const error = expectError(await request('POST', `/v1/sessions/${session.id}/messages`, { prompt: 'one more' }), 402, 'BUDGET_EXCEEDED', /budget/);
    expect(error.details).toEqual({ costUsd: 0.5, maxBudgetUsd: 0.5 });
    expect(((await request('GET', `/v1/sessions/${session.id}/messages`)).json() as { messages: unknown[] }).messages).toEqual([]);
  });
});
