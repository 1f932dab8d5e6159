// In-memory adapter of the Store port, for unit tests of the code above it. Records are cloned on the
// way in and out, so callers never share objects with the store. Nothing survives close().
import { HangarError } from '../../errors/errors.js';
import type {
  CheckpointRecord,
  QueuedMessage,
  ScheduleRecord,
  SessionEvent,
  SessionRecord,
  SharedSandboxRecord,
  Store,
  TaskRecord,
  TranscriptEntry,
  TranscriptKey,
} from '../store.js';
import { newQueuedMessage } from '../store.js';
import { copy, definedFields, newestFirst, oldestFirst } from './record-helpers.js';
import { createInMemorySecretRepository } from './secrets.js';
import { createInMemoryAccess } from './access.js';
import { createInMemoryTenants } from './tenants.js';

interface StoredTranscript {
  entries: TranscriptEntry[];
  uuids: Set<string>;
  mtime: number;
}

export function createInMemoryStore(): Store {
  const tasks = new Map<string, TaskRecord>();
  const sessions = new Map<string, SessionRecord>();
  const messages = new Map<string, QueuedMessage>();
  const messageSeqs = new Map<string, number>();
  const events = new Map<string, SessionEvent[]>();
  const checkpoints = new Map<string, CheckpointRecord>();
  // Keyed by JSON.stringify([projectKey, sessionId, subpath]), subpath '' for the main transcript.
  const transcripts = new Map<string, StoredTranscript>();
  const schedules = new Map<string, ScheduleRecord>();
  const sharedSandboxes = new Map<string, SharedSandboxRecord>();
  /** Egress log entries by owner, oldest first, and the last number given per owner. */
  const access = createInMemoryAccess();
  const tenancy = createInMemoryTenants();
  const secrets = createInMemorySecretRepository();

  const transcriptId = (key: TranscriptKey): string => JSON.stringify([key.projectKey, key.sessionId, key.subpath ?? '']);
  const transcriptParts = (id: string): [string, string, string] => JSON.parse(id) as [string, string, string];

  return {
    tasks: {
      async insert(task) {
        if (tasks.has(task.id)) throw new HangarError('CONFLICT', `task ${task.id} already exists`);
        tasks.set(task.id, copy(task));
      },
      async update(id, patch) {
        const current = tasks.get(id);
        if (current === undefined) throw new HangarError('TASK_NOT_FOUND', `task ${id} does not exist`);
        const next: TaskRecord = { ...current, ...definedFields(patch, ['id', 'tenantId', 'createdAt']) };
        tasks.set(id, next);
        return copy(next);
      },
      async get(id) {
        const task = tasks.get(id);
        return task === undefined ? undefined : copy(task);
      },
      async list(query) {
        let all = [...tasks.values()].sort(newestFirst);
        if (query.tenantId !== undefined) all = all.filter((task) => task.tenantId === query.tenantId);
        if (query.status !== undefined) all = all.filter((task) => task.status === query.status);
        if (query.before !== undefined) {
          const anchor = tasks.get(query.before);
          if (anchor === undefined || (query.tenantId !== undefined && anchor.tenantId !== query.tenantId))
            throw new HangarError('TASK_NOT_FOUND', `task ${query.before} (the paging cursor) does not exist`);
          all = all.filter((task) => newestFirst(anchor, task) < 0);
        }
        return all.slice(0, query.limit).map(copy);
      },
      async interruptRunning(reason) {
        let count = 0;
        for (const task of tasks.values()) {
          if (task.status !== 'running') continue;
          task.status = 'interrupted';
          task.error = { ...reason };
          task.finishedAt = new Date().toISOString();
          count += 1;
        }
        return count;
      },
    },

    sessions: {
      async insert(session) {
        if (sessions.has(session.id)) throw new HangarError('CONFLICT', `session ${session.id} already exists`);
        sessions.set(session.id, copy(session));
      },
      async update(id, patch) {
        const current = sessions.get(id);
        if (current === undefined) throw new HangarError('SESSION_NOT_FOUND', `session ${id} does not exist`);
        const fields = definedFields(patch, ['id', 'tenantId', 'createdAt']);
        const next: SessionRecord = { ...current, ...fields, updatedAt: fields.updatedAt ?? new Date().toISOString() };
        sessions.set(id, next);
        return copy(next);
      },
      async get(id) {
        const session = sessions.get(id);
        return session === undefined ? undefined : copy(session);
      },
      async list(query) {
        let all = [...sessions.values()].sort(newestFirst);
        if (query.tenantId !== undefined) all = all.filter((session) => session.tenantId === query.tenantId);
        if (query.status !== undefined) all = all.filter((session) => session.status === query.status);
        if (query.pattern !== undefined) all = all.filter((session) => session.pattern === query.pattern);
        if (query.sandboxId !== undefined) all = all.filter((session) => session.sandboxId === query.sandboxId);
        const metadata = Object.entries(query.metadata ?? {});
        all = all.filter((session) => metadata.every(([key, value]) => Object.hasOwn(session.metadata, key) && session.metadata[key] === value));
        if (query.before !== undefined) {
          const anchor = sessions.get(query.before);
          if (anchor === undefined || (query.tenantId !== undefined && anchor.tenantId !== query.tenantId))
            throw new HangarError('SESSION_NOT_FOUND', `session ${query.before} (the paging cursor) does not exist`);
          all = all.filter((session) => newestFirst(anchor, session) < 0);
        }
        return all.slice(0, query.limit).map(copy);
      },
      async countOpen(tenantId) {
        return [...sessions.values()].filter((session) => session.tenantId === tenantId && session.status !== 'closed').length;
      },
      async listByStatus(statuses) {
        return [...sessions.values()]
          .filter((session) => statuses.includes(session.status))
          .sort(oldestFirst)
          .map(copy);
      },
    },

    messages: {
      async enqueue(message) {
        if (messages.has(message.id)) throw new HangarError('CONFLICT', `message ${message.id} already exists`);
        const seq = (messageSeqs.get(message.sessionId) ?? 0) + 1;
        messageSeqs.set(message.sessionId, seq);
        const queued = newQueuedMessage(message, seq);
        messages.set(queued.id, queued);
        return copy(queued);
      },
      async nextQueued(sessionId) {
        let next: QueuedMessage | undefined;
        for (const message of messages.values()) {
          if (message.sessionId !== sessionId || message.status !== 'queued') continue;
          if (next === undefined || message.seq < next.seq) next = message;
        }
        return next === undefined ? undefined : copy(next);
      },
      async update(id, patch) {
        const current = messages.get(id);
        if (current === undefined) throw new HangarError('NOT_FOUND', `message ${id} does not exist`);
        const next: QueuedMessage = { ...current, ...definedFields(patch, ['id', 'sessionId', 'seq', 'prompt', 'source', 'createdAt']) };
        messages.set(id, next);
        return copy(next);
      },
      async get(id) {
        const message = messages.get(id);
        return message === undefined ? undefined : copy(message);
      },
      async list(sessionId, options) {
        return [...messages.values()]
          .filter((message) => message.sessionId === sessionId && (options.statuses === undefined || options.statuses.includes(message.status)))
          .sort((a, b) => a.seq - b.seq)
          .slice(0, options.limit)
          .map(copy);
      },
      async interruptRunning(reason) {
        const finishedAt = new Date().toISOString();
        const interrupted: QueuedMessage[] = [];
        for (const message of messages.values()) {
          if (message.status !== 'running') continue;
          message.status = 'interrupted';
          message.error = { ...reason };
          message.finishedAt = finishedAt;
          interrupted.push(copy(message));
        }
        return interrupted.sort((a, b) => (a.sessionId === b.sessionId ? a.seq - b.seq : a.sessionId < b.sessionId ? -1 : 1));
      },
    },

    events: {
      async append(sessionId, batch) {
        const log = events.get(sessionId) ?? [];
        events.set(sessionId, log);
        const createdAt = new Date().toISOString();
        const appended = batch.map((event, index): SessionEvent => ({
          sessionId,
          seq: log.length + index + 1,
          type: event.type,
          data: copy(event.data ?? null),
          createdAt,
        }));
        log.push(...appended);
        return appended.map(copy);
      },
      async read(sessionId, options) {
        const log = events.get(sessionId) ?? [];
        // seq n sits at index n - 1.
        return log.slice(Math.max(0, options.after), Math.max(0, options.after) + options.limit).map(copy);
      },
      async lastSeq(sessionId) {
        return events.get(sessionId)?.length ?? 0;
      },
    },

    checkpoints: {
      async insert(checkpoint) {
        if (checkpoints.has(checkpoint.id)) throw new HangarError('CONFLICT', `checkpoint ${checkpoint.id} already exists`);
        checkpoints.set(checkpoint.id, copy(checkpoint));
      },
      async get(id) {
        const checkpoint = checkpoints.get(id);
        return checkpoint === undefined ? undefined : copy(checkpoint);
      },
      async list(sessionId, limit, offset = 0) {
        return [...checkpoints.values()]
          .filter((checkpoint) => checkpoint.sessionId === sessionId)
          .sort(newestFirst)
          .slice(offset, offset + limit)
          .map(copy);
      },
      async delete(id) {
        checkpoints.delete(id);
      },
      async hasBlobKey(blobKey) {
        return [...checkpoints.values()].some((checkpoint) => checkpoint.blobKey === blobKey);
      },
      async sessionIds(options) {
        const ids = [...new Set([...checkpoints.values()].map((checkpoint) => checkpoint.sessionId))].sort();
        return ids.filter((id) => options.after === undefined || id > options.after).slice(0, options.limit);
      },
    },

    transcripts: {
      async append(key, entries) {
        const id = transcriptId(key);
        const stored = transcripts.get(id) ?? { entries: [], uuids: new Set<string>(), mtime: 0 };
        transcripts.set(id, stored);
        stored.mtime = Date.now();
        for (const entry of entries) {
          if (typeof entry.uuid === 'string') {
            if (stored.uuids.has(entry.uuid)) continue;
            stored.uuids.add(entry.uuid);
          }
          stored.entries.push(copy(entry));
        }
      },
      async load(key, options = {}) {
        const stored = transcripts.get(transcriptId(key));
        if (stored === undefined) return null;
        const entries = options.limit === undefined ? stored.entries : stored.entries.slice(0, Math.max(0, options.limit));
        return entries.map(copy);
      },
      async count(key) {
        return transcripts.get(transcriptId(key))?.entries.length ?? 0;
      },
      async listSessions(projectKey) {
        const result: Array<{ sessionId: string; mtime: number }> = [];
        for (const [id, stored] of transcripts) {
          const [project, sessionId, subpath] = transcriptParts(id);
          if (project === projectKey && subpath === '') result.push({ sessionId, mtime: stored.mtime });
        }
        return result.sort((a, b) => (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0));
      },
      async listSubkeys(key) {
        const result: string[] = [];
        for (const id of transcripts.keys()) {
          const [project, sessionId, subpath] = transcriptParts(id);
          if (project === key.projectKey && sessionId === key.sessionId && subpath !== '') result.push(subpath);
        }
        return result.sort();
      },
      async delete(key) {
        const main = (key.subpath ?? '') === '';
        for (const id of [...transcripts.keys()]) {
          const [project, sessionId, subpath] = transcriptParts(id);
          if (project !== key.projectKey || sessionId !== key.sessionId) continue;
          // Deleting the main transcript takes every subagent transcript of the session with it.
          if (main || subpath === key.subpath) transcripts.delete(id);
        }
      },
    },

    schedules: {
      async insert(schedule) {
        if (schedules.has(schedule.id)) throw new HangarError('CONFLICT', `schedule ${schedule.id} already exists`);
        schedules.set(schedule.id, copy(schedule));
      },
      async update(id, patch) {
        const current = schedules.get(id);
        if (current === undefined) throw new HangarError('SCHEDULE_NOT_FOUND', `schedule ${id} does not exist`);
        const next: ScheduleRecord = { ...current, ...definedFields(patch, ['id', 'sessionId', 'createdAt']) };
        schedules.set(id, next);
        return copy(next);
      },
      async get(id) {
        const schedule = schedules.get(id);
        return schedule === undefined ? undefined : copy(schedule);
      },
      async list(sessionId) {
        return [...schedules.values()]
          .filter((schedule) => schedule.sessionId === sessionId)
          .sort(oldestFirst)
          .map(copy);
      },
      async due(now, limit) {
        return [...schedules.values()]
          .filter((schedule) => schedule.enabled && schedule.nextRunAt <= now)
          .sort((a, b) => (a.nextRunAt !== b.nextRunAt ? (a.nextRunAt < b.nextRunAt ? -1 : 1) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
          .slice(0, limit)
          .map(copy);
      },
      async delete(id) {
        schedules.delete(id);
      },
    },

    sharedSandboxes: {
      async insert(sandbox) {
        if (sharedSandboxes.has(sandbox.id)) throw new HangarError('CONFLICT', `sandbox ${sandbox.id} already exists`);
        sharedSandboxes.set(sandbox.id, copy(sandbox));
      },
      async update(id, patch) {
        const current = sharedSandboxes.get(id);
        if (current === undefined) throw new HangarError('SANDBOX_NOT_FOUND', `sandbox ${id} does not exist`);
        const next: SharedSandboxRecord = { ...current, ...definedFields(patch, ['id', 'tenantId', 'resources', 'createdAt']) };
        sharedSandboxes.set(id, next);
        return copy(next);
      },
      async get(id) {
        const sandbox = sharedSandboxes.get(id);
        return sandbox === undefined ? undefined : copy(sandbox);
      },
      async list(query = {}) {
        return [...sharedSandboxes.values()]
          .filter((sandbox) => query.status === undefined || sandbox.status === query.status)
          .filter((sandbox) => query.tenantId === undefined || sandbox.tenantId === query.tenantId)
          .sort(oldestFirst)
          .map(copy);
      },
    },

    egress: access.egress,
    apiKeys: access.apiKeys,
    tenants: tenancy.tenants,
    tenantUsage: tenancy.tenantUsage,
    secrets,

    async close() {
      tenancy.clear();
      access.clear();
      secrets.clear();
      for (const map of [tasks, sessions, messages, messageSeqs, events, checkpoints, transcripts, schedules, sharedSandboxes]) map.clear();
    },
  };
}
