// The OpenAPI document describes every route and every status it answers, and the response schemas
// (which also serialize the answers) keep every field of the views: the store's records, read back
// through the API, come out whole.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presentCheckpoint, presentSession, presentTaskView } from '../../src/api/views.js';
import { createHangar, type Hangar } from '../../src/app.js';
import { parseConfig } from '../../src/config/config.js';
import { createInMemorySandboxProvider } from '../../src/sandbox/providers/in-memory.js';
import type { QueuedMessage } from '../../src/store/store.js';
import { makeCheckpoint, makeSchedule, makeSession, makeTask } from '../contracts/store.contract.js';

interface Response {
  description: string;
  content?: Record<string, { schema?: { $ref?: string; type?: string; description?: string } }>;
  headers?: Record<string, unknown>;
}

interface Operation {
  operationId?: string;
  tags?: string[];
  parameters?: Array<{ in: string; name: string }>;
  requestBody?: unknown;
  responses: Record<string, Response>;
}

interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
}

describe('the OpenAPI document', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-openapi-'));
  let hangar: Hangar;
  let host: string;
  let document: Document;
  let operations: Array<{ method: string; path: string; operation: Operation }>;

  beforeAll(async () => {
    // The document is the same with keys on; test/api/auth.test.ts covers 401 and 403.
    const config = parseConfig({
      dataDir: directory,
      logLevel: 'silent',
      auth: { mode: 'none' },
      server: { host: '127.0.0.1', port: 0, bodyLimitBytes: 16 * 1024 },
    });
    hangar = await createHangar(config, { logger: pino({ level: 'silent' }), sandboxProvider: createInMemorySandboxProvider() });
    host = new URL(await hangar.listen()).host;
    const answer = await inject('GET', '/openapi.json');
    expect(answer.statusCode).toBe(200);
    document = answer.json() as Document;
    operations = Object.entries(document.paths).flatMap(([route, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ method, path: route, operation })),
    );
  });
  afterAll(async () => {
    await hangar.close();
    rmSync(directory, { recursive: true, force: true });
  });

  // The server listens on loopback, so requests name it as a client would (host-check.ts).
  function inject(method: string, url: string, options: { payload?: string; contentType?: string; host?: string } = {}) {
    return hangar.app.inject({
      method: method as 'GET',
      url,
      headers: { host: options.host ?? host, ...(options.payload !== undefined ? { 'content-type': options.contentType ?? 'application/json' } : {}) },
      ...(options.payload !== undefined ? { payload: options.payload } : {}),
    });
  }

  /** What a client reads: the JSON answer of a GET, which must succeed. */
  async function read(url: string): Promise<unknown> {
    const answer = await inject('GET', url);
    expect(answer.statusCode, answer.body).toBe(200);
    return answer.json();
  }

  it('documents every route of the API with a unique operationId and tags', () => {
    const documented = operations.map(({ method, path: route }) => `${method.toUpperCase()} ${route}`).sort();
    expect(documented).toEqual(
      [
        'GET /healthz',
        'GET /readyz',
        'POST /v1/tasks',
        'GET /v1/tasks',
        'GET /v1/tasks/{id}',
        'DELETE /v1/tasks/{id}',
        'POST /v1/tasks/{id}/cancel',
        'GET /v1/tasks/{id}/events',
        'GET /v1/tasks/{id}/egress',
        'POST /v1/sessions',
        'GET /v1/sessions',
        'GET /v1/sessions/{id}',
        'DELETE /v1/sessions/{id}',
        'POST /v1/sessions/{id}/messages',
        'GET /v1/sessions/{id}/messages',
        'GET /v1/sessions/{id}/checkpoints',
        'POST /v1/sessions/{id}/fork',
        'POST /v1/sessions/{id}/interrupt',
        'POST /v1/sessions/{id}/hibernate',
        'POST /v1/sessions/{id}/schedules',
        'GET /v1/sessions/{id}/schedules',
        'DELETE /v1/sessions/{id}/schedules/{scheduleId}',
        'GET /v1/sessions/{id}/events',
        'GET /v1/sessions/{id}/egress',
        'POST /v1/sandboxes',
        'GET /v1/sandboxes',
        'GET /v1/sandboxes/{id}',
        'DELETE /v1/sandboxes/{id}',
        'POST /v1/keys',
        'GET /v1/keys',
        'DELETE /v1/keys/{id}',
        'POST /v1/tenants',
        'GET /v1/tenants',
        'GET /v1/tenants/{id}',
        'PATCH /v1/tenants/{id}',
        'GET /v1/tenants/{id}/usage',
        'PUT /v1/tenants/{id}/secrets/{name}',
        'GET /v1/tenants/{id}/secrets',
        'DELETE /v1/tenants/{id}/secrets/{name}',
      ].sort(),
    );
    const ids = operations.map(({ operation }) => operation.operationId);
    for (const { method, path: route, operation } of operations) {
      expect(operation.operationId, `${method} ${route}`).toMatch(/^[a-z][A-Za-z]+$/);
      expect(operation.tags?.length, `${method} ${route}`).toBeGreaterThan(0);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('names a task, session or sandbox in every route under theirs as {id}, the parameter the tenant guard checks (tenant-scope.ts)', () => {
    const owned = operations.filter(({ path: route }) => /^\/v1\/(tasks|sessions|sandboxes)\/\{/.test(route));
    expect(owned.length).toBeGreaterThanOrEqual(20);
    for (const { method, path: route } of owned) expect(route, `${method} ${route}`).toMatch(/^\/v1\/(tasks|sessions|sandboxes)\/\{id\}(\/|$)/);
  });

  it('gives every status of every route a description and a schema: the views, the Error body, SSE as text/event-stream', () => {
    const errorRef = '#/components/schemas/Error';
    for (const { method, path: route, operation } of operations) {
      const where = `${method.toUpperCase()} ${route}`;
      const statuses = Object.keys(operation.responses);
      // Every route answers the error format on 421 and 500, one that takes input on 400, one with an id
      // on 404 and 414, one that reads a body (POST, PUT, DELETE) on 413 and 415.
      const expected = ['421', '500'];
      if (!['/healthz', '/readyz'].includes(route)) expected.push('400');
      if (route.includes('{')) expected.push('404', '414');
      if (method === 'post' || method === 'put' || method === 'delete') expected.push('413', '415');
      expect(statuses, where).toEqual(expect.arrayContaining(expected));
      expect(statuses.filter((status) => status.startsWith('2')).length, where).toBeGreaterThan(0);
      for (const [status, response] of Object.entries(operation.responses)) {
        expect(response.description, `${where} ${status}`).not.toMatch(/^(Default Response)?$/);
        if (status === '204') {
          expect(response.content, `${where} ${status}`).toBeUndefined();
          continue;
        }
        const types = Object.keys(response.content ?? {});
        expect(types.length, `${where} ${status}`).toBeGreaterThan(0);
        for (const type of types) expect(response.content?.[type]?.schema, `${where} ${status} ${type}`).toBeDefined();
        if (Number(status) >= 400) expect(response.content?.['application/json']?.schema?.$ref, `${where} ${status}`).toBe(errorRef);
        if (status === '429') expect(Object.keys(response.headers ?? {}), where).toContain('Retry-After');
      }
    }
    for (const route of ['/v1/tasks/{id}/events', '/v1/sessions/{id}/events']) {
      const stream = document.paths[route]?.get?.responses['200']?.content;
      expect(Object.keys(stream ?? {})).toEqual(['text/event-stream']);
      expect(stream?.['text/event-stream']?.schema?.description).toMatch(/id: <n>.*event: <name>.*data: .*Event \(\{ seq, type, createdAt, data \}\)/);
    }
    const run = document.paths['/v1/tasks']?.post?.responses;
    expect(Object.keys(run?.['200']?.content ?? {})).toEqual(['application/json', 'text/event-stream']);
    expect(run?.['200']?.content?.['application/json']?.schema?.$ref).toBe('#/components/schemas/Task');
    expect(run?.['202']?.content?.['application/json']?.schema?.$ref).toBe('#/components/schemas/Task');
    expect(document.paths['/v1/sessions']?.post?.responses['201']?.content?.['application/json']?.schema?.$ref).toBe('#/components/schemas/Session');
    expect(Object.keys(document.components.schemas)).toEqual(
      expect.arrayContaining(['Error', 'Task', 'Session', 'SessionMessage', 'Checkpoint', 'Schedule', 'SharedSandbox', 'Event', 'FileChange', 'TokenUsage']),
    );
    expect(Object.keys(document.components.schemas).filter((name) => name.endsWith('Input'))).toEqual([]);
  });

  it('documents each status the routes answer to bad requests', async () => {
    const long = 'x'.repeat(600);
    for (const { method, path: route, operation } of operations) {
      const where = `${method.toUpperCase()} ${route}`;
      const url = (id: string) => route.replace(/\{\w+\}/g, id);
      const probes = [
        inject(method, url('none')),
        inject(method, `${url('none')}?unknownParameter=1`),
        inject(method, url('none'), { host: 'rebound.example' }),
        ...(route.includes('{') ? [inject(method, url(long))] : []),
        ...(method === 'post' || method === 'put' || method === 'delete'
          ? [
              inject(method, url('none'), { payload: 'text', contentType: 'text/plain' }),
              inject(method, url('none'), { payload: JSON.stringify({ x: 'y'.repeat(32 * 1024) }) }),
            ]
          : []),
      ];
      for (const answer of await Promise.all(probes)) {
        // The streams answer 200 to a good request; none of these is one, except the health routes'.
        if (answer.statusCode < 400) continue;
        expect(Object.keys(operation.responses), `${where} answered ${answer.statusCode}: ${answer.body}`).toContain(String(answer.statusCode));
        expect(Object.keys(answer.json() as object)).toEqual(['error']);
      }
    }
  });

  it('answers the views whole: every field of the stored records comes back', async () => {
    const { store } = hangar;
    const task = makeTask('task_whole', '2026-01-01T00:00:00.000Z', {
      status: 'succeeded',
      finishedAt: '2026-01-01T00:00:05.000Z',
      durationMs: 5000,
      result: 'done',
      numTurns: 2,
      agentSessionId: 'agent-1',
      usage: { inputTokens: 1, outputTokens: 2, cacheCreationInputTokens: 3, cacheReadInputTokens: 4 },
      usageByModel: { 'claude-x': { inputTokens: 1, outputTokens: 2, cacheCreationInputTokens: 3, cacheReadInputTokens: 4 } },
      costUsd: 0.25,
      files: [
        { path: 'a.txt', change: 'created', sizeBytes: 3, allocatedBytes: 4096, content: 'abc', encoding: 'utf8' },
        { path: 'b\uFFFD', pathBase64: 'Yv8=', change: 'modified', sizeBytes: 1 << 30, contentOmitted: 'too-large' },
        { path: 'c', change: 'modified', sizeBytes: 1, error: 'it vanished' },
        { path: 'd', change: 'deleted', sizeBytes: 0 },
      ],
      sandboxReport: {
        sandboxId: 'sbx_1',
        oomKills: 1,
        memoryPeakBytes: null,
        modelRequests: 2,
        failedModelRequests: 0,
        fileCollection: { filesSeen: 4, truncated: false, aborted: true, bytesRead: 10, error: 'scan failed' },
        reportedLater: { any: 'shape' },
      },
    });
    await store.tasks.insert(task);
    const taskView = JSON.parse(JSON.stringify(presentTaskView(task))) as unknown;
    expect(taskView).toMatchObject({ sandbox: { reportedLater: { any: 'shape' } } });
    expect(await read('/v1/tasks/task_whole')).toEqual(taskView);
    expect(await read('/v1/tasks?limit=1')).toEqual({ tasks: [taskView], nextBefore: 'task_whole' });

    const checkpoint = makeCheckpoint('ckpt_1', 'sess_whole', '2026-01-01T00:01:00.000Z');
    const session = makeSession('sess_whole', '2026-01-01T00:00:00.000Z', {
      metadata: { team: 'a' },
      agentSessionId: 'agent-2',
      forkedFrom: { sessionId: 'sess_0', checkpointId: 'ckpt_0' },
      turns: 1,
      costUsd: 0.5,
      contextTokens: 1000,
      contextWindow: 200_000,
      lastCheckpointId: 'ckpt_1',
      error: { code: 'AGENT_FAILED', message: 'it failed' },
    });
    await store.sessions.insert(session);
    await store.checkpoints.insert(checkpoint);
    expect(await read('/v1/sessions/sess_whole')).toEqual(JSON.parse(JSON.stringify(presentSession(session, checkpoint))));
    expect(await read('/v1/sessions?limit=1')).toEqual({ sessions: [JSON.parse(JSON.stringify(presentSession(session)))], nextBefore: 'sess_whole' });
    expect(await read('/v1/sessions/sess_whole/checkpoints')).toEqual({ checkpoints: [JSON.parse(JSON.stringify(presentCheckpoint(checkpoint)))] });
    expect(await read('/v1/sessions/sess_whole/checkpoints')).not.toHaveProperty('checkpoints.0.blobKey');

    const message: QueuedMessage = await store.messages.enqueue({
      id: 'msg_1',
      sessionId: 'sess_whole',
      prompt: 'hello',
      source: 'api',
      createdAt: '2026-01-01T00:02:00.000Z',
    });
    await store.messages.update('msg_1', {
      status: 'failed',
      error: { code: 'INTERRUPTED', message: 'cut off' },
      startedAt: '2026-01-01T00:02:01.000Z',
      finishedAt: '2026-01-01T00:02:02.000Z',
    });
    expect(await read('/v1/sessions/sess_whole/messages')).toEqual({
      messages: [
        {
          ...message,
          status: 'failed',
          error: { code: 'INTERRUPTED', message: 'cut off' },
          startedAt: '2026-01-01T00:02:01.000Z',
          finishedAt: '2026-01-01T00:02:02.000Z',
        },
      ],
    });

    const schedule = makeSchedule('sched_1', 'sess_whole', '2026-01-01T00:05:00.000Z', {
      every: null,
      cron: '*/5 * * * *',
      lastRunAt: '2026-01-01T00:00:00.000Z',
    });
    await store.schedules.insert(schedule);
    expect(await read('/v1/sessions/sess_whole/schedules')).toEqual({ schedules: [schedule] });

    const sandbox = {
      id: 'sbx_whole',
      tenantId: 'default',
      status: 'closed' as const,
      resources: { memoryMb: 512, cpus: 1, diskMb: 64, pids: 128 },
      createdAt: '2026-01-01T00:00:00.000Z',
      closedAt: '2026-01-01T00:03:00.000Z',
    };
    await store.sharedSandboxes.insert(sandbox);
    expect(await read('/v1/sandboxes/sbx_whole')).toEqual({ ...sandbox, sessions: [] });
    expect(await read('/v1/sandboxes?status=closed')).toEqual({ sandboxes: [{ ...sandbox, sessions: [] }] });
  });

  it('answers through the routes that change state: 201, 202, 200 and 204 with their views', async () => {
    const created = await inject('POST', '/v1/sessions', { payload: JSON.stringify({ pattern: 'long-running', metadata: { a: '1' } }) });
    expect(created.statusCode, created.body).toBe(201);
    const session = created.json() as { id: string; status: string; options: Record<string, unknown> };
    expect(session).toMatchObject({ status: 'idle', metadata: { a: '1' }, checkpoint: null });
    expect(Object.keys(session.options)).toEqual(expect.arrayContaining(['allowedTools', 'maxTurns', 'resources', 'idleTimeoutSec']));
    const schedule = await inject('POST', `/v1/sessions/${session.id}/schedules`, { payload: JSON.stringify({ every: '1h', prompt: 'tick' }) });
    expect(schedule.statusCode, schedule.body).toBe(201);
    const { id: scheduleId } = schedule.json() as { id: string };
    expect(schedule.json()).toMatchObject({ sessionId: session.id, every: '1h', cron: null, enabled: true, lastRunAt: null });
    const removed = await inject('DELETE', `/v1/sessions/${session.id}/schedules/${scheduleId}`);
    expect(removed.statusCode).toBe(204);
    expect(removed.body).toBe('');
    const interrupted = await inject('POST', `/v1/sessions/${session.id}/interrupt`);
    expect(interrupted.json()).toEqual({ interrupted: false });
    const closed = await inject('DELETE', `/v1/sessions/${session.id}`);
    expect(closed.statusCode).toBe(200);
    expect(closed.json()).toMatchObject({ id: session.id, status: 'closed' });
    const refused = await inject('POST', `/v1/sessions/${session.id}/messages`, { payload: JSON.stringify({ prompt: 'hi' }) });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toEqual({ error: { code: 'SESSION_CLOSED', message: expect.any(String) } });
    const sandbox = await inject('POST', '/v1/sandboxes');
    expect(sandbox.statusCode, sandbox.body).toBe(201);
    const { id: sandboxId } = sandbox.json() as { id: string };
    expect(sandbox.json()).toMatchObject({ status: 'active', closedAt: null, sessions: [] });
    const closedSandbox = await inject('DELETE', `/v1/sandboxes/${sandboxId}`);
    expect(closedSandbox.json()).toMatchObject({ id: sandboxId, status: 'closed', closedAt: expect.any(String) });
  });
});
