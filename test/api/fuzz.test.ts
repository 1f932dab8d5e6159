// API fuzz: more than 10,000 requests generated with fast-check from the OpenAPI document, across
// every route: hostile path parameters, query strings and bodies, other methods (test/helpers/api-fuzz.ts).
// No answer may be 5xx, every 4xx has the { error: { code, message } } body, the server stays up,
// and the records are whole afterwards: each one created during the run reads back and lists, a
// session and a task made before the run are unchanged, and the SQLite file passes its integrity check.
// Hangar runs in-process, in front of the scripted model server, on the in-memory sandbox provider
// whose sandboxes run only tar (checkpoints work; agents never start, so a task fails at once).
// The seed is fixed and logged; HANGAR_FUZZ_SEED=<n> picks another.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import pino from 'pino';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHangar, type Hangar } from '../../src/app.js';
import { taskListSchema, sessionListSchema, type SessionView, type TaskView } from '../../src/api/views.js';
import { parseConfig, resolveDataPaths } from '../../src/config/config.js';
import { startScriptedModelServer, type ScriptedModelServer } from '../../src/model/scripted-model-server.js';
import { createTarInMemorySandboxProvider } from '../helpers/tar-in-memory-provider.js';
import { operationsOf, pathOf, requestsFor, type FuzzRequest, type Operation, type PoolName } from '../helpers/api-fuzz.js';

const SEED = Number(process.env.HANGAR_FUZZ_SEED ?? 20_260_210);
/** Requests sent at once; a property run is one batch. */
const BATCH = 16;
const RUNS = 640;
const MIN_REQUESTS = 10_000;
const BODY_LIMIT_BYTES = 1024 * 1024;
/** Longest a request may take to be answered (headers; an event stream opens at once) or to finish its body. */
const ANSWER_TIMEOUT_MS = 10_000;

interface Answer {
  status: number;
  contentType: string;
  text: string;
}

describe('API fuzz', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-fuzz-'));
  /** What the server logged of requests that failed inside it (the cause of a 5xx). */
  const serverErrors: string[] = [];
  let model: ScriptedModelServer;
  let hangar: Hangar;
  let pool: Pool;
  let operations: Operation[];

  beforeAll(async () => {
    model = await startScriptedModelServer({ scenario: { replies: [], whenExhausted: { text: 'Done.' } }, host: '127.0.0.1', port: 0, logger: false });
    const config = parseConfig({
      dataDir: directory,
      logLevel: 'silent',
      // Loopback only: the run is about input, not keys.
      auth: { mode: 'none' },
      server: { host: '127.0.0.1', port: 0, bodyLimitBytes: BODY_LIMIT_BYTES },
      gateway: { upstreamUrl: model.url, upstreamApiKey: 'sk-ant-test-upstream-key' },
      sandbox: { warmPoolSize: 0, maxLive: 64 },
    });
    const scratch = path.join(directory, 'tar-scratch');
    mkdirSync(scratch);
    // Requests that failed inside the server; agents failing (they cannot start here) are not among them.
    const logger = pino(
      { level: 'error' },
      { write: (line: string) => void (line.includes('"msg":"request failed"') && serverErrors.length < 100 && serverErrors.push(line)) },
    );
    hangar = await createHangar(config, { logger, sandboxProvider: createTarInMemorySandboxProvider(scratch) });
    const origin = await hangar.listen();
    pool = new Pool(origin, { connections: BATCH });
    const document = JSON.parse((await call('GET', '/openapi.json')).text) as { paths: Record<string, Record<string, unknown>> };
    operations = operationsOf(document);
  });
  afterAll(async () => {
    await pool?.close();
    await hangar?.close();
    await model?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  async function call(method: string, url: string, options: { body?: string | Uint8Array; headers?: Record<string, string> } = {}): Promise<Answer> {
    const response = await pool.request({
      method: method as 'GET',
      path: url,
      headers: options.headers ?? {},
      ...(options.body !== undefined ? { body: options.body } : {}),
      headersTimeout: ANSWER_TIMEOUT_MS,
      bodyTimeout: ANSWER_TIMEOUT_MS,
    });
    const contentType = String(response.headers['content-type'] ?? '');
    // A followed event stream stays open: its status and type are the answer.
    if (contentType.startsWith('text/event-stream') && !url.includes('follow=false')) {
      response.body.on('error', () => undefined).destroy();
      return { status: response.statusCode, contentType, text: '' };
    }
    return { status: response.statusCode, contentType, text: await response.body.text() };
  }

  /** The JSON of an answer that must be 200. */
  async function read<T>(url: string): Promise<T> {
    const answer = await call('GET', url);
    expect(answer.status, `GET ${url}: ${answer.text.slice(0, 500)}`).toBe(200);
    return JSON.parse(answer.text) as T;
  }

  async function post<T>(url: string, body: unknown, status: number): Promise<T> {
    const answer = await call('POST', url, { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    expect(answer.status, `POST ${url}: ${answer.text.slice(0, 500)}`).toBe(status);
    return JSON.parse(answer.text) as T;
  }

  /** What an answer breaks: a 5xx, or a 4xx without the error body. */
  function problemWith(method: string, answer: Answer): string | undefined {
    if (answer.status >= 500) return `answered ${answer.status}`;
    if (answer.status < 400 || method === 'HEAD') return undefined;
    if (!answer.contentType.startsWith('application/json')) return `answered ${answer.status} as ${answer.contentType || 'no content type'}`;
    try {
      const body = JSON.parse(answer.text) as { error?: { code?: unknown; message?: unknown } };
      if (Object.keys(body).join() !== 'error' || typeof body.error?.code !== 'string' || body.error.code === '' || typeof body.error.message !== 'string') {
        return `answered ${answer.status} without { error: { code, message } }`;
      }
    } catch {
      return `answered ${answer.status} with a body that is not JSON`;
    }
    return undefined;
  }

  function describeRequest(request: FuzzRequest, url: string): string {
    const body = request.body;
    const content = body === undefined ? '' : typeof body.content === 'string' ? body.content : `<${body.content.length} bytes>`;
    const shown = content.length > 300 ? `${content.slice(0, 300)}... (${content.length} chars)` : content;
    return `${request.method} ${url.slice(0, 600)} headers=${JSON.stringify(request.headers)} body[${body?.kind ?? 'none'}, ${body?.contentType ?? 'no type'}]=${shown}`;
  }

  it(`answers ${MIN_REQUESTS}+ generated requests across every route without a 5xx, and keeps every record whole`, { timeout: 240_000 }, async () => {
    const started = Date.now();
    expect(operations.length).toBeGreaterThanOrEqual(28);
    const pools: Record<PoolName, string[]> = { task: [], session: [], sandbox: [], schedule: [], key: [], tenant: [] };
    /** Records created before and during the run, with their views when created. */
    const created = {
      tasks: new Map<string, TaskView>(),
      sessions: new Map<string, SessionView>(),
      sandboxes: new Set<string>(),
      keys: new Map<string, string>(),
      tenants: new Set<string>(),
    };
    const track = (pool: PoolName, view: { id: string; name?: string }): void => {
      pools[pool].push(view.id);
      if (pool === 'task') created.tasks.set(view.id, view as TaskView);
      if (pool === 'session') created.sessions.set(view.id, view as SessionView);
      if (pool === 'sandbox') created.sandboxes.add(view.id);
      if (pool === 'key') created.keys.set(view.id, view.name ?? '');
      if (pool === 'tenant') created.tenants.add(view.id);
    };

    // The fixed records: made before the run, never named by it, compared whole afterwards.
    const fixedSession = await post<SessionView>('/v1/sessions', { pattern: 'hybrid', metadata: { fixture: 'fuzz', owner: 'api-fuzz-test' } }, 201);
    const fixedTask = await post<TaskView>('/v1/tasks', { prompt: 'a task made before the fuzz run', maxTurns: 1 }, 200);
    const snapshot = async () => ({
      session: await read(`/v1/sessions/${fixedSession.id}`),
      messages: await read(`/v1/sessions/${fixedSession.id}/messages`),
      checkpoints: await read(`/v1/sessions/${fixedSession.id}/checkpoints`),
      schedules: await read(`/v1/sessions/${fixedSession.id}/schedules`),
      sessionEvents: (await call('GET', `/v1/sessions/${fixedSession.id}/events?follow=false`)).text,
      task: await read(`/v1/tasks/${fixedTask.id}`),
      taskEvents: (await call('GET', `/v1/tasks/${fixedTask.id}/events?follow=false`)).text,
      taskEgress: await read(`/v1/tasks/${fixedTask.id}/egress`),
    });
    const before = await snapshot();
    expect(before.sessionEvents).toContain('session_created');
    expect(before.taskEvents).toContain('task_finished');

    // Records the run names by id (and may cancel, close or fork).
    track('session', await post<SessionView>('/v1/sessions', { pattern: 'hybrid', metadata: { seed: 'hybrid' } }, 201));
    track('session', await post<SessionView>('/v1/sessions', { pattern: 'long-running', metadata: { seed: 'long-running' } }, 201));
    const sandbox = await post<{ id: string }>('/v1/sandboxes', {}, 201);
    track('sandbox', sandbox);
    track('session', await post<SessionView>('/v1/sessions', { pattern: 'long-running', sandboxId: sandbox.id }, 201));
    track('schedule', await post<{ id: string }>(`/v1/sessions/${pools.session[0]}/schedules`, { every: '1d', prompt: 'a schedule that never fires' }, 201));
    track('task', await post<TaskView>('/v1/tasks', { prompt: 'a task the run names', wait: false }, 202));
    // A tenant the run may rename and give policies (the default tenant's policy would hold every request of the run).
    track('tenant', await post<{ id: string }>('/v1/tenants', { id: 'fuzz-seed' }, 201));

    const queryNames = [...new Set(operations.flatMap((operation) => operation.query.map((parameter) => parameter.name)))];
    const requests = fc.oneof(...operations.map((operation, index) => requestsFor(index, operation, queryNames, BODY_LIMIT_BYTES)));
    const sent = new Map<string, number>();
    const statuses = new Map<number, number>();
    let total = 0;

    console.log(`API fuzz: seed ${SEED} (HANGAR_FUZZ_SEED=${SEED} reproduces this run), ${RUNS} batches of ${BATCH} requests`);
    await fc.assert(
      fc.asyncProperty(fc.array(requests, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        const problems = await Promise.all(
          batch.map(async (request) => {
            const operation = operations[request.operation]!;
            const url = pathOf(request, operation, pools);
            total += 1;
            sent.set(operation.operationId, (sent.get(operation.operationId) ?? 0) + 1);
            let answer: Answer;
            try {
              const headers = { ...request.headers, ...(request.body?.contentType !== undefined ? { 'content-type': request.body.contentType } : {}) };
              answer = await call(request.method, url, { headers, ...(request.body !== undefined ? { body: request.body.content } : {}) });
            } catch (error) {
              return `${describeRequest(request, url)}\n  failed: ${(error as Error).message}`;
            }
            statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
            const problem = problemWith(request.method, answer);
            if (problem !== undefined) return `${describeRequest(request, url)}\n  ${problem}: ${answer.text.slice(0, 300)}`;
            if (answer.status < 300 && request.method === operation.method.toUpperCase() && answer.contentType.startsWith('application/json')) {
              const answered = JSON.parse(answer.text) as { id: string; key?: { id: string; name: string } };
              const pool = {
                createSession: 'session',
                forkSession: 'session',
                runTask: 'task',
                createSandbox: 'sandbox',
                addSchedule: 'schedule',
                createApiKey: 'key',
                createTenant: 'tenant',
              }[operation.operationId];
              // A new API key is answered with its token: { key, token }.
              if (pool !== undefined) track(pool as PoolName, answered.key ?? answered);
            }
            return undefined;
          }),
        );
        const found = problems.filter((problem) => problem !== undefined);
        if (found.length > 0) throw new Error(`${found.join('\n')}\nserver errors:\n${serverErrors.slice(-5).join('')}`);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    const elapsedMs = Date.now() - started;
    console.log(
      `API fuzz: ${total} requests in ${(elapsedMs / 1000).toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}; ` +
        `created ${created.tasks.size} tasks, ${created.sessions.size} sessions, ${created.sandboxes.size} sandboxes, ${created.keys.size} API keys, ${created.tenants.size} tenants`,
    );
    expect(total).toBeGreaterThanOrEqual(MIN_REQUESTS);
    for (const operation of operations) expect(sent.get(operation.operationId) ?? 0, operation.operationId).toBeGreaterThanOrEqual(100);
    expect(serverErrors).toEqual([]);

    // The server is alive and its tasks settle.
    expect((await call('GET', '/healthz')).status).toBe(200);
    const deadline = Date.now() + 30_000;
    while ((await read<{ runningTasks: number }>('/readyz')).runningTasks > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));

    // Every record created reads back, with what it was created with, and is in its list.
    const listed = async <T extends { id: string }>(route: string, key: 'tasks' | 'sessions'): Promise<Set<string>> => {
      const ids = new Set<string>();
      for (let before: string | null = null; ;) {
        const page: { nextBefore: string | null } & Record<string, T[]> = await read(`${route}?limit=500${before === null ? '' : `&before=${before}`}`);
        (key === 'tasks' ? taskListSchema : sessionListSchema).parse(page);
        for (const item of page[key]!) ids.add(item.id);
        if (page.nextBefore === null) return ids;
        before = page.nextBefore;
      }
    };
    const taskIds = await listed('/v1/tasks', 'tasks');
    for (const [id, view] of created.tasks) {
      expect(taskIds.has(id), id).toBe(true);
      expect(await read<TaskView>(`/v1/tasks/${id}`)).toMatchObject({ id, prompt: view.prompt, createdAt: view.createdAt });
      await read(`/v1/tasks/${id}/egress`);
      expect((await call('GET', `/v1/tasks/${id}/events?follow=false`)).status).toBe(200);
    }
    const sessionIds = await listed('/v1/sessions', 'sessions');
    for (const [id, view] of created.sessions) {
      expect(sessionIds.has(id), id).toBe(true);
      const { pattern, metadata, createdAt, forkedFrom } = view;
      expect(await read<SessionView>(`/v1/sessions/${id}`)).toMatchObject({ id, pattern, metadata, createdAt, forkedFrom });
      for (const part of ['messages', 'checkpoints', 'schedules', 'egress']) await read(`/v1/sessions/${id}/${part}`);
      expect((await call('GET', `/v1/sessions/${id}/events?follow=false`)).status).toBe(200);
    }
    const sandboxes = await read<{ sandboxes: Array<{ id: string }> }>('/v1/sandboxes');
    for (const id of created.sandboxes) {
      expect(sandboxes.sandboxes.map((item) => item.id)).toContain(id);
      await read(`/v1/sandboxes/${id}`);
    }
    const keys = await read<{ keys: Array<{ id: string; name: string }> }>('/v1/keys');
    for (const [id, name] of created.keys) expect(keys.keys.find((key) => key.id === id)?.name, id).toBe(name);
    const tenants = await read<{ tenants: Array<{ id: string }> }>('/v1/tenants');
    for (const id of created.tenants) expect(tenants.tenants.map((tenant) => tenant.id)).toContain(id);
    expect((await read<{ sessions: SessionView[] }>('/v1/sessions?metadata=fixture=fuzz')).sessions.map((session) => session.id)).toContain(fixedSession.id);

    // The fixed records are as they were.
    expect(await snapshot()).toEqual(before);
    expect(serverErrors).toEqual([]);

    // The store's file is whole once the server closed it.
    await hangar.close();
    const database = new Database(resolveDataPaths(hangar.config).sqlitePath, { readonly: true });
    try {
      expect(database.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      database.close();
    }
  });
});
