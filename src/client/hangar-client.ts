// A small HTTP client of the Hangar API, used by the CLI (and by users from TypeScript).
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import type { CreateSessionBody, TaskRequestBody } from '../api/schemas.js';
import type {
  CheckpointView,
  EventView,
  InterruptAnswer,
  SandboxView,
  ScheduleView,
  SessionListView,
  SessionMessageView,
  SessionView,
  TaskListView,
  TaskView,
} from '../api/views.js';
import type { EgressLogView } from '../api/egress-routes.js';
import type { ApiKeyView, CreatedApiKeyView } from '../api/key-routes.js';
import type { TenantUsageView, TenantView } from '../api/tenant-routes.js';
import type { TenantPolicy } from '../tenants/tenant-policy.js';
import { apiErrorOf, HangarApiError } from './api-error.js';
import { nextRetryWaitMs, retrySettings, type RetryOptions, type RetrySettings } from './retry-policy.js';
import { SseParser } from './sse-parser.js';

// The views are the API's response schemas (src/api/views.ts), inferred.
export type { EgressEntryView, EgressLogView } from '../api/egress-routes.js';
export type { ApiKeyView, CreatedApiKeyView } from '../api/key-routes.js';
export type { TenantUsageView, TenantView } from '../api/tenant-routes.js';
export type { TenantPolicy } from '../tenants/tenant-policy.js';
export type { CheckpointView, SandboxView, ScheduleView, SessionMessageView, SessionView, TaskView };
export type { RetryNotice, RetryOptions } from './retry-policy.js';
export { HangarApiError };

/** A task to run: a prompt and the agent options (the request schema of POST /v1/tasks, src/api/schemas.ts). */
export type TaskRequest = Omit<TaskRequestBody, 'stream' | 'wait'>;

/** A session to create: a pattern, the agent options and the session's own (POST /v1/sessions). */
export type CreateSessionRequest = CreateSessionBody;

/** `?a=1&b=2` of the defined values, or ''. */
function queryString(query: Record<string, string | number | undefined>): string {
  const entries = Object.entries(query).filter((entry): entry is [string, string | number] => entry[1] !== undefined);
  return entries.length === 0 ? '' : `?${new URLSearchParams(entries.map(([key, value]): [string, string] => [key, String(value)]))}`;
}

/** One event of a session's stream. */
export type SessionEventView = EventView;

/** One event of a task's stream: task_created, task_started, sdk (an SDK message), task_stopping, task_finished. */
export type TaskEventView = EventView;

export interface TaskFollowOptions {
  /** Start after this sequence number (default 0: everything). */
  after?: number;
  signal?: AbortSignal;
  /** Every event, in order, exactly once (reconnects resume after the last one seen). */
  onEvent?: (event: TaskEventView) => void;
  /** Reconnects after a dropped stream, with Last-Event-ID (default 5). */
  maxReconnects?: number;
}

export interface TaskStreamHandlers {
  onTaskCreated?: (id: string) => void;
  onMessage?: (message: SDKMessage) => void;
}

export interface HangarClientOptions {
  /** Sent as Authorization: Bearer on every request (auth.mode keys). */
  apiKey?: string | undefined;
  /**
   * Retries of a 429 that created nothing (RATE_LIMITED, CAPACITY_EXCEEDED) after its Retry-After,
   * bounded (src/client/retry-policy.ts); false sends every request once.
   */
  retry?: RetryOptions | false;
}

export class HangarClient {
  private readonly retry: RetrySettings;

  constructor(
    readonly baseUrl: string,
    private readonly options: HangarClientOptions = {},
  ) {
    this.retry = retrySettings(options.retry);
  }

  /** The headers every request carries, with `extra` on top. */
  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.options.apiKey !== undefined ? { authorization: `Bearer ${this.options.apiKey}` } : {}), ...extra };
  }

  /**
   * Sends a request and resolves with its 2xx answer. A 429 that created nothing is sent again after
   * its Retry-After, within the retry bounds; any other non-2xx answer, or the last 429, throws
   * HangarApiError.
   */
  private async send(pathname: string | URL, init: RequestInit): Promise<Response> {
    const url = new URL(pathname, this.baseUrl);
    let waitedMs = 0;
    for (let attempt = 1; ; attempt += 1) {
      const response = await fetch(url, init);
      if (response.ok) return response;
      const error = await apiErrorOf(response, { attempts: attempt, waitedMs });
      const retryAfter = error.retryAfterSec === undefined ? undefined : error.retryAfterSec * 1000;
      const waitMs = nextRetryWaitMs({ status: error.status, code: error.code, retryAfterMs: retryAfter }, attempt, waitedMs, this.retry);
      if (waitMs === undefined) throw error;
      this.retry.onRetry?.({ code: error.code, attempt, maxAttempts: this.retry.maxAttempts, waitMs });
      await this.retry.sleep(waitMs);
      waitedMs += waitMs;
    }
  }

  /** Runs a task and waits for its final record. */
  async runTask(request: TaskRequest): Promise<TaskView> {
    const response = await this.send('/v1/tasks', {
      method: 'POST',
      headers: this.headers({ 'content-type': 'application/json' }),
      body: JSON.stringify(request),
    });
    return (await response.json()) as TaskView;
  }

  /** Runs a task as an SSE stream, calling the handlers live; resolves with the final record. */
  async streamTask(request: TaskRequest, handlers: TaskStreamHandlers): Promise<TaskView> {
    const response = await this.send('/v1/tasks', {
      method: 'POST',
      headers: this.headers({ 'content-type': 'application/json', accept: 'text/event-stream' }),
      body: JSON.stringify({ ...request, stream: true }),
    });
    if (response.body === null) throw new HangarApiError(502, 'STREAM_ENDED', 'the task stream answered without a body');
    const parser = new SseParser();
    let final: TaskView | undefined;
    for await (const chunk of response.body) {
      for (const event of parser.push(chunk)) {
        const data = JSON.parse(event.data) as unknown;
        if (event.event === 'task') handlers.onTaskCreated?.((data as { id: string }).id);
        else if (event.event === 'message') handlers.onMessage?.(data as SDKMessage);
        else if (event.event === 'result') final = data as TaskView;
        else if (event.event === 'error') {
          const { error } = data as { error: { code: string; message: string } };
          throw new HangarApiError(500, error.code, error.message);
        }
      }
    }
    if (final === undefined) throw new HangarApiError(502, 'STREAM_ENDED', 'the task stream ended before the result');
    return final;
  }

  async getTask(id: string): Promise<TaskView> {
    return this.call<TaskView>('GET', `/v1/tasks/${encodeURIComponent(id)}`);
  }

  /** Tasks, newest first; pass nextBefore as `before` for the next page. */
  listTasks(query: { status?: string; limit?: number; before?: string } = {}): Promise<TaskListView> {
    return this.call('GET', `/v1/tasks${queryString(query)}`);
  }

  /** What the egress proxy decided for a task's or a session's sandbox, oldest first; pass nextAfter as `after` for the next page. */
  listEgress(kind: 'tasks' | 'sessions', id: string, query: { after?: number; limit?: number } = {}): Promise<EgressLogView> {
    return this.call('GET', `/v1/${kind}/${encodeURIComponent(id)}/egress${queryString(query)}`);
  }

  /** Makes an API key (admin scope); the answer holds its token, shown this once. */
  createApiKey(request: { name: string; scopes: Array<'admin' | 'run' | 'read'>; tenantId?: string }): Promise<CreatedApiKeyView> {
    return this.call('POST', '/v1/keys', request);
  }

  /** The caller's tenant's keys (the operator's: every tenant's, or those of `tenantId`). */
  async listApiKeys(query: { tenantId?: string } = {}): Promise<ApiKeyView[]> {
    return (await this.call<{ keys: ApiKeyView[] }>('GET', `/v1/keys${queryString(query)}`)).keys;
  }

  /** Makes a tenant (operator only). */
  createTenant(request: { id: string; name?: string; policy?: TenantPolicy }): Promise<TenantView> {
    return this.call('POST', '/v1/tenants', request);
  }

  /** Every tenant for the operator; the caller's own otherwise. */
  async listTenants(): Promise<TenantView[]> {
    return (await this.call<{ tenants: TenantView[] }>('GET', '/v1/tenants')).tenants;
  }

  getTenant(id: string): Promise<TenantView> {
    return this.call('GET', `/v1/tenants/${encodeURIComponent(id)}`);
  }

  /** Renames a tenant or replaces its whole policy (operator only). */
  updateTenant(id: string, patch: { name?: string; policy?: TenantPolicy }): Promise<TenantView> {
    return this.call('PATCH', `/v1/tenants/${encodeURIComponent(id)}`, patch);
  }

  /** A tenant's model spend of a UTC day (default today) and its live sandboxes. */
  getTenantUsage(id: string, day?: string): Promise<TenantUsageView> {
    return this.call('GET', `/v1/tenants/${encodeURIComponent(id)}/usage${queryString({ day })}`);
  }

  /** Revokes an API key: requests with it answer 401 at once. */
  revokeApiKey(id: string): Promise<ApiKeyView> {
    return this.call('DELETE', `/v1/keys/${encodeURIComponent(id)}`);
  }

  /** Starts a task in the background (202) and returns its record at once; follow it with followTask(). */
  createTask(request: TaskRequest): Promise<TaskView> {
    return this.call<TaskView>('POST', '/v1/tasks', { ...request, wait: false });
  }

  /** Cancels a running task; resolves with its final record (status cancelled). 409 TASK_NOT_RUNNING when it already finished. */
  cancelTask(id: string): Promise<TaskView> {
    return this.call<TaskView>('POST', `/v1/tasks/${encodeURIComponent(id)}/cancel`);
  }

  /**
   * Reads a task's event stream from `after` until it ends (after task_finished, or at once with
   * follow: false), the signal aborts or `onEvent` returns true. Resolves with the last seq seen.
   */
  async readTaskEvents(
    id: string,
    options: { after?: number; follow?: boolean; signal?: AbortSignal; onEvent: (event: TaskEventView) => boolean | void },
  ): Promise<number> {
    return this.readEventStream(`/v1/tasks/${encodeURIComponent(id)}/events`, options);
  }

  /**
   * Follows a task to its end, reconnecting with Last-Event-ID when the stream drops, and resolves
   * with its final record (from task_finished, or read back when the log has none).
   */
  async followTask(id: string, options: TaskFollowOptions = {}): Promise<TaskView> {
    let after = options.after ?? 0;
    let final: TaskView | undefined;
    let reconnects = 0;
    for (;;) {
      try {
        after = await this.readTaskEvents(id, {
          after,
          ...(options.signal ? { signal: options.signal } : {}),
          onEvent: (event) => {
            after = event.seq;
            options.onEvent?.(event);
            if (event.type === 'task_finished') final = (event.data as { task: TaskView }).task;
            return final !== undefined;
          },
        });
      } catch (error) {
        if (options.signal?.aborted || error instanceof HangarApiError || reconnects >= (options.maxReconnects ?? 5)) throw error;
        reconnects += 1;
        await new Promise((resolve) => setTimeout(resolve, 200 * reconnects));
        continue;
      }
      if (final !== undefined) return final;
      const task = await this.getTask(id);
      if (task.status !== 'running' || options.signal?.aborted) return task;
      if (reconnects >= (options.maxReconnects ?? 5))
        throw new HangarApiError(502, 'STREAM_ENDED', `the event stream of task ${id} ended while the task still runs`);
      reconnects += 1;
    }
  }

  /** Sends a JSON request and returns the parsed answer; non-2xx answers throw HangarApiError (429s retried first, see send). */
  async call<T>(method: string, pathname: string, body?: unknown): Promise<T> {
    const response = await this.send(pathname, {
      method,
      headers: this.headers(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return response.status === 204 ? (undefined as T) : ((await response.json()) as T);
  }

  createSession(request: CreateSessionRequest): Promise<SessionView> {
    return this.call('POST', '/v1/sessions', request);
  }

  getSession(id: string): Promise<SessionView> {
    return this.call('GET', `/v1/sessions/${encodeURIComponent(id)}`);
  }

  sendMessage(id: string, prompt: string): Promise<SessionMessageView> {
    return this.call('POST', `/v1/sessions/${encodeURIComponent(id)}/messages`, { prompt });
  }

  async listMessages(id: string): Promise<SessionMessageView[]> {
    return (await this.call<{ messages: SessionMessageView[] }>('GET', `/v1/sessions/${encodeURIComponent(id)}/messages`)).messages;
  }

  closeSession(id: string): Promise<SessionView> {
    return this.call('DELETE', `/v1/sessions/${encodeURIComponent(id)}`);
  }

  forkSession(id: string, body: { checkpointId?: string } = {}): Promise<SessionView> {
    return this.call('POST', `/v1/sessions/${encodeURIComponent(id)}/fork`, body);
  }

  listSessions(query: { status?: string; pattern?: string; metadata?: string; limit?: number; before?: string } = {}): Promise<SessionListView> {
    return this.call('GET', `/v1/sessions${queryString(query)}`);
  }

  hibernateSession(id: string): Promise<SessionView> {
    return this.call('POST', `/v1/sessions/${encodeURIComponent(id)}/hibernate`);
  }

  interruptSession(id: string): Promise<InterruptAnswer> {
    return this.call('POST', `/v1/sessions/${encodeURIComponent(id)}/interrupt`);
  }

  async listCheckpoints(id: string, limit?: number): Promise<CheckpointView[]> {
    return (await this.call<{ checkpoints: CheckpointView[] }>('GET', `/v1/sessions/${encodeURIComponent(id)}/checkpoints${queryString({ limit })}`))
      .checkpoints;
  }

  addSchedule(id: string, schedule: { prompt: string; every?: string; cron?: string }): Promise<ScheduleView> {
    return this.call('POST', `/v1/sessions/${encodeURIComponent(id)}/schedules`, schedule);
  }

  async listSchedules(id: string): Promise<ScheduleView[]> {
    return (await this.call<{ schedules: ScheduleView[] }>('GET', `/v1/sessions/${encodeURIComponent(id)}/schedules`)).schedules;
  }

  removeSchedule(id: string, scheduleId: string): Promise<void> {
    return this.call('DELETE', `/v1/sessions/${encodeURIComponent(id)}/schedules/${encodeURIComponent(scheduleId)}`);
  }

  createSandbox(body: { resources?: TaskRequest['resources'] } = {}): Promise<SandboxView> {
    return this.call('POST', '/v1/sandboxes', body);
  }

  async listSandboxes(query: { status?: 'active' | 'closed' } = {}): Promise<SandboxView[]> {
    return (await this.call<{ sandboxes: SandboxView[] }>('GET', `/v1/sandboxes${queryString(query)}`)).sandboxes;
  }

  getSandbox(id: string): Promise<SandboxView> {
    return this.call('GET', `/v1/sandboxes/${encodeURIComponent(id)}`);
  }

  closeSandbox(id: string): Promise<SandboxView> {
    return this.call('DELETE', `/v1/sandboxes/${encodeURIComponent(id)}`);
  }

  /**
   * Reads the session's event stream from `after`, calling `onEvent` for each event until it
   * returns true, the stream ends, or the signal aborts. Resolves with the last seq seen.
   */
  async readEvents(
    id: string,
    options: { after?: number; follow?: boolean; signal?: AbortSignal; onEvent: (event: SessionEventView) => boolean | void },
  ): Promise<number> {
    return this.readEventStream(`/v1/sessions/${encodeURIComponent(id)}/events`, options);
  }

  private async readEventStream(
    pathname: string,
    options: { after?: number; follow?: boolean; signal?: AbortSignal; onEvent: (event: SessionEventView) => boolean | void },
  ): Promise<number> {
    const url = new URL(pathname, this.baseUrl);
    if (options.follow === false) url.searchParams.set('follow', 'false');
    const controller = new AbortController();
    options.signal?.addEventListener('abort', () => controller.abort(), { once: true });
    const response = await this.send(url, {
      headers: this.headers({ accept: 'text/event-stream', ...(options.after !== undefined ? { 'last-event-id': String(options.after) } : {}) }),
      signal: controller.signal,
    });
    if (response.body === null) throw new HangarApiError(502, 'STREAM_ENDED', `the event stream of ${pathname} answered without a body`);
    const parser = new SseParser();
    let last = options.after ?? 0;
    try {
      for await (const chunk of response.body) {
        for (const event of parser.push(chunk)) {
          const parsed = JSON.parse(event.data) as SessionEventView;
          last = parsed.seq;
          if (options.onEvent(parsed) === true) {
            controller.abort();
            return last;
          }
        }
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
    return last;
  }
}
