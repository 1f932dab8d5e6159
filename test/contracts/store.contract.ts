// Contract suite of the Store port: every adapter must pass it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CheckpointRecord, ScheduleRecord, SessionRecord, Store, TaskRecord, TranscriptEntry } from '../../src/store/store.js';
import { newSessionRecord, newTaskRecord } from '../../src/store/store.js';
import { secretRepositoryContract } from './store-secrets.contract.js';
import { tenantRepositoryContract } from './store-tenants.contract.js';

/** A running task as the task service records it (store.ts newTaskRecord), with `overrides` on top. */
export function makeTask(id: string, createdAt: string, overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    ...newTaskRecord({ id, tenantId: 'default', prompt: `prompt of ${id}`, options: { maxTurns: 3, allowedTools: ['Bash'] }, createdAt }),
    ...overrides,
  };
}

/** An idle session as the session manager records it (store.ts newSessionRecord), with `overrides` on top. */
export function makeSession(id: string, createdAt: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  const options = { maxTurns: 5, allowedTools: ['Bash', 'Read'], resources: { memoryMb: 512 }, idleTimeoutSec: 60 };
  return { ...newSessionRecord({ id, tenantId: 'default', pattern: 'long-running', options, metadata: {}, sandboxId: null, createdAt }), ...overrides };
}

export function makeCheckpoint(id: string, sessionId: string, createdAt: string, overrides: Partial<CheckpointRecord> = {}): CheckpointRecord {
  return {
    id,
    sessionId,
    turn: 1,
    blobKey: `sessions/${sessionId}/${id}.tar.zst`,
    sizeBytes: 5_000_000_000,
    agentSessionId: `agent-${sessionId}`,
    transcriptEntries: 12,
    manifest: {
      format: 2,
      archive: { sizeBytes: 5_000_000_000, sha256: 'ab'.repeat(32) },
      transcript: { projectKey: '-workspace', agentSessionId: `agent-${sessionId}`, entries: 12, sha256: 'cd'.repeat(32) },
      homeExcludes: ['.cache', '.npm/_cacache'],
    },
    createdAt,
    ...overrides,
  };
}

export function makeSchedule(id: string, sessionId: string, nextRunAt: string, overrides: Partial<ScheduleRecord> = {}): ScheduleRecord {
  return {
    id,
    sessionId,
    every: '5m',
    cron: null,
    prompt: `prompt of ${id}`,
    enabled: true,
    nextRunAt,
    lastRunAt: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

/** A transcript line shaped like the SDK's: nested message content, a uuid unless told otherwise. */
export function makeEntry(uuid: string | undefined, text: string): TranscriptEntry {
  const entry: TranscriptEntry = {
    type: 'assistant',
    timestamp: '2026-01-01T00:00:00.000Z',
    sessionId: 'agent-1',
    parentUuid: null,
    message: {
      role: 'assistant',
      content: [
        { type: 'text', text },
        { type: 'tool_use', id: 'tu_1', name: 'Bash', input: { command: 'ls -la', timeout: 5 } },
      ],
    },
    costUSD: 0.0012,
    isSidechain: false,
    unicode: 'héllo ✓ 日本',
  };
  if (uuid !== undefined) entry.uuid = uuid;
  return entry;
}

export interface StoreContractOptions {
  /** Reopens the same underlying storage (for durability checks); omit for non-durable adapters. */
  reopen?: (previous: Store) => Promise<Store>;
}

export function runStoreContract(name: string, openStore: () => Promise<Store>, options: StoreContractOptions = {}): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await openStore();
    });
    afterEach(async () => {
      await store.close();
    });

    it('returns an inserted task field for field, and undefined for an unknown id', async () => {
      const task = makeTask('t1', '2026-01-01T00:00:00.000Z', { files: [{ path: 'a.txt', change: 'created', sizeBytes: 2, content: 'hi', encoding: 'utf8' }] });
      await store.tasks.insert(task);
      expect(await store.tasks.get('t1')).toEqual(task);
      expect(await store.tasks.get('missing')).toBeUndefined();
    });

    it('updates a task and keeps id and createdAt', async () => {
      await store.tasks.insert(makeTask('t1', '2026-01-01T00:00:00.000Z'));
      const updated = await store.tasks.update('t1', {
        status: 'succeeded',
        result: 'done',
        usage: { inputTokens: 10, outputTokens: 5, cacheCreationInputTokens: 1, cacheReadInputTokens: 2 },
        costUsd: 0.25,
        durationMs: 1234,
      });
      expect(updated.status).toBe('succeeded');
      const stored = await store.tasks.get('t1');
      expect(stored).toEqual(updated);
      expect(stored?.createdAt).toBe('2026-01-01T00:00:00.000Z');
      expect(stored?.usage.outputTokens).toBe(5);
      await expect(store.tasks.update('nope', { status: 'failed' })).rejects.toMatchObject({ code: 'TASK_NOT_FOUND' });
    });

    it('keeps both of two concurrent task patches of different fields', async () => {
      await store.tasks.insert(makeTask('t1', '2026-01-01T00:00:00.000Z'));
      await Promise.all([
        store.tasks.update('t1', { status: 'succeeded' }),
        store.tasks.update('t1', { result: 'done' }),
        store.tasks.update('t1', { costUsd: 0.5 }),
      ]);
      expect(await store.tasks.get('t1')).toMatchObject({ status: 'succeeded', result: 'done', costUsd: 0.5 });
    });

    it('lists newest first, filters by status and pages with a cursor', async () => {
      for (let index = 0; index < 5; index += 1) {
        await store.tasks.insert(makeTask(`t${index}`, `2026-01-01T00:00:0${index}.000Z`, { status: index % 2 === 0 ? 'succeeded' : 'failed' }));
      }
      const firstPage = await store.tasks.list({ limit: 2 });
      expect(firstPage.map((task) => task.id)).toEqual(['t4', 't3']);
      const secondPage = await store.tasks.list({ limit: 2, before: 't3' });
      expect(secondPage.map((task) => task.id)).toEqual(['t2', 't1']);
      const failed = await store.tasks.list({ limit: 10, status: 'failed' });
      expect(failed.map((task) => task.id)).toEqual(['t3', 't1']);
      await expect(store.tasks.list({ limit: 2, before: 'ghost' })).rejects.toMatchObject({ code: 'TASK_NOT_FOUND' });
    });

    it('marks running tasks interrupted and leaves finished ones alone', async () => {
      await store.tasks.insert(makeTask('run', '2026-01-01T00:00:00.000Z'));
      await store.tasks.insert(makeTask('done', '2026-01-01T00:00:01.000Z', { status: 'succeeded' }));
      expect(await store.tasks.interruptRunning({ code: 'INTERRUPTED', message: 'server restarted' })).toBe(1);
      expect((await store.tasks.get('run'))?.status).toBe('interrupted');
      expect((await store.tasks.get('run'))?.error?.message).toBe('server restarted');
      expect((await store.tasks.get('done'))?.status).toBe('succeeded');
    });

    if (options.reopen) {
      const reopen = options.reopen;
      it('keeps tasks after the store is closed and opened again', async () => {
        await store.tasks.insert(makeTask('durable', '2026-01-01T00:00:00.000Z', { result: 'kept' }));
        store = await reopen(store);
        expect((await store.tasks.get('durable'))?.result).toBe('kept');
      });
    }

    describe('sessions', () => {
      it('returns an inserted session field for field, undefined for an unknown id, CONFLICT for a taken id', async () => {
        const session = makeSession('s1', '2026-01-01T00:00:00.000Z', {
          metadata: { team: 'infra', ticket: 'T-1' },
          sandboxId: 'sbx_1',
          agentSessionId: 'agent-1',
          forkedFrom: { sessionId: 's0', checkpointId: 'c0' },
          turns: 3,
          usage: { inputTokens: 10, outputTokens: 20, cacheCreationInputTokens: 30, cacheReadInputTokens: 40 },
          usageByModel: { 'claude-x': { inputTokens: 10, outputTokens: 20, cacheCreationInputTokens: 30, cacheReadInputTokens: 40 } },
          costUsd: 0.125,
          contextTokens: 1234,
          contextWindow: 200_000,
          lastCheckpointId: 'c1',
          error: { code: 'AGENT_FAILED', message: 'boom' },
        });
        await store.sessions.insert(session);
        expect(await store.sessions.get('s1')).toEqual(session);
        expect(await store.sessions.get('missing')).toBeUndefined();
        await expect(store.sessions.insert(makeSession('s1', '2026-01-02T00:00:00.000Z'))).rejects.toMatchObject({ code: 'CONFLICT' });
      });

      it('does not share objects with the caller', async () => {
        const session = makeSession('s1', '2026-01-01T00:00:00.000Z', { metadata: { a: '1' } });
        await store.sessions.insert(session);
        session.metadata.a = 'changed';
        const loaded = await store.sessions.get('s1');
        expect(loaded?.metadata.a).toBe('1');
        if (loaded !== undefined) loaded.metadata.a = 'changed again';
        expect((await store.sessions.get('s1'))?.metadata.a).toBe('1');
      });

      it('applies a patch, keeps id and createdAt, and sets updatedAt', async () => {
        await store.sessions.insert(makeSession('s1', '2026-01-01T00:00:00.000Z'));
        const before = new Date().toISOString();
        const updated = await store.sessions.update('s1', { status: 'running', turns: 2, costUsd: 0.5, forkedFrom: { sessionId: 'x', checkpointId: 'y' } });
        const after = new Date().toISOString();
        expect(updated).toMatchObject({
          id: 's1',
          status: 'running',
          turns: 2,
          costUsd: 0.5,
          createdAt: '2026-01-01T00:00:00.000Z',
          forkedFrom: { sessionId: 'x', checkpointId: 'y' },
        });
        expect(updated.updatedAt >= before && updated.updatedAt <= after).toBe(true);
        expect(await store.sessions.get('s1')).toEqual(updated);
        const explicit = await store.sessions.update('s1', { updatedAt: '2026-02-02T00:00:00.000Z', error: null, contextWindow: null });
        expect(explicit.updatedAt).toBe('2026-02-02T00:00:00.000Z');
        expect(explicit.turns).toBe(2);
        await expect(store.sessions.update('nope', { status: 'closed' })).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
      });

      it('keeps both of two concurrent patches of different fields', async () => {
        await store.sessions.insert(makeSession('s1', '2026-01-01T00:00:00.000Z'));
        await Promise.all([
          store.sessions.update('s1', { status: 'running' }),
          store.sessions.update('s1', { turns: 7 }),
          store.sessions.update('s1', { lastCheckpointId: 'c9' }),
        ]);
        expect(await store.sessions.get('s1')).toMatchObject({ status: 'running', turns: 7, lastCheckpointId: 'c9' });
      });

      it('lists newest first, pages with a cursor, and filters by status, pattern, sandbox and metadata', async () => {
        const specs: Array<[string, Partial<SessionRecord>]> = [
          ['s0', { status: 'idle', pattern: 'hybrid', metadata: { team: 'a', env: 'prod' } }],
          ['s1', { status: 'running', pattern: 'long-running', metadata: { team: 'b' }, sandboxId: 'sbx' }],
          ['s2', { status: 'idle', pattern: 'long-running', metadata: { team: 'a', env: 'dev' }, sandboxId: 'sbx' }],
          ['s3', { status: 'closed', pattern: 'hybrid', metadata: { team: 'a', env: 'prod' } }],
          ['s4', { status: 'idle', pattern: 'long-running', metadata: {} }],
        ];
        for (const [index, [id, overrides]] of specs.entries()) {
          await store.sessions.insert(makeSession(id, `2026-01-01T00:00:0${index}.000Z`, overrides));
        }
        const ids = (sessions: SessionRecord[]): string[] => sessions.map((session) => session.id);
        expect(ids(await store.sessions.list({ limit: 2 }))).toEqual(['s4', 's3']);
        expect(ids(await store.sessions.list({ limit: 2, before: 's3' }))).toEqual(['s2', 's1']);
        expect(ids(await store.sessions.list({ limit: 2, before: 's1' }))).toEqual(['s0']);
        expect(ids(await store.sessions.list({ limit: 10, status: 'idle' }))).toEqual(['s4', 's2', 's0']);
        expect(ids(await store.sessions.list({ limit: 10, pattern: 'hybrid' }))).toEqual(['s3', 's0']);
        expect(ids(await store.sessions.list({ limit: 10, sandboxId: 'sbx' }))).toEqual(['s2', 's1']);
        expect(ids(await store.sessions.list({ limit: 10, metadata: { team: 'a' } }))).toEqual(['s3', 's2', 's0']);
        expect(ids(await store.sessions.list({ limit: 10, metadata: { team: 'a', env: 'prod' } }))).toEqual(['s3', 's0']);
        expect(ids(await store.sessions.list({ limit: 10, metadata: { team: 'a', env: 'prod' }, status: 'idle' }))).toEqual(['s0']);
        expect(ids(await store.sessions.list({ limit: 10, metadata: { team: 'zzz' } }))).toEqual([]);
        expect(ids(await store.sessions.list({ limit: 10, metadata: {} }))).toHaveLength(5);
        await expect(store.sessions.list({ limit: 2, before: 'ghost' })).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
      });

      it('filters by the metadata a patch set', async () => {
        await store.sessions.insert(makeSession('s1', '2026-01-01T00:00:00.000Z', { metadata: { team: 'a' } }));
        await store.sessions.update('s1', { metadata: { team: 'b', owner: 'me' } });
        expect(await store.sessions.list({ limit: 10, metadata: { team: 'a' } })).toEqual([]);
        expect((await store.sessions.list({ limit: 10, metadata: { team: 'b', owner: 'me' } })).map((session) => session.id)).toEqual(['s1']);
        expect((await store.sessions.get('s1'))?.metadata).toEqual({ team: 'b', owner: 'me' });
      });

      it('lists sessions in any of several statuses, oldest first', async () => {
        await store.sessions.insert(makeSession('a', '2026-01-01T00:00:02.000Z', { status: 'running' }));
        await store.sessions.insert(makeSession('b', '2026-01-01T00:00:01.000Z', { status: 'hibernated' }));
        await store.sessions.insert(makeSession('c', '2026-01-01T00:00:00.000Z', { status: 'closed' }));
        expect((await store.sessions.listByStatus(['running', 'hibernated'])).map((session) => session.id)).toEqual(['b', 'a']);
        expect(await store.sessions.listByStatus([])).toEqual([]);
      });
    });

    describe('message queue', () => {
      const enqueue = (id: string, sessionId: string, source = 'api') =>
        store.messages.enqueue({ id, sessionId, prompt: `prompt ${id}`, source, createdAt: '2026-01-01T00:00:00.000Z' });

      it('assigns seq 1, 2, 3 per session and starts messages queued', async () => {
        const first = await enqueue('m1', 's1');
        await enqueue('m2', 's1');
        await enqueue('x1', 's2', 'schedule:sch1');
        const third = await enqueue('m3', 's1');
        expect(first).toEqual({
          id: 'm1',
          sessionId: 's1',
          seq: 1,
          prompt: 'prompt m1',
          source: 'api',
          status: 'queued',
          error: null,
          createdAt: '2026-01-01T00:00:00.000Z',
          startedAt: null,
          finishedAt: null,
        });
        expect(third.seq).toBe(3);
        expect((await store.messages.get('x1'))?.seq).toBe(1);
        expect(await store.messages.get('m3')).toEqual(third);
        expect(await store.messages.get('ghost')).toBeUndefined();
        await expect(enqueue('m1', 's1')).rejects.toMatchObject({ code: 'CONFLICT' });
      });

      it('assigns distinct consecutive seqs to concurrent enqueues', async () => {
        const queued = await Promise.all(Array.from({ length: 30 }, (_, index) => enqueue(`m${index}`, 's1')));
        expect(queued.map((message) => message.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, index) => index + 1));
      });

      it('hands out the oldest queued message next, in seq order', async () => {
        expect(await store.messages.nextQueued('s1')).toBeUndefined();
        await enqueue('m1', 's1');
        await enqueue('m2', 's1');
        await enqueue('other', 's2');
        expect((await store.messages.nextQueued('s1'))?.id).toBe('m1');
        await store.messages.update('m1', { status: 'running', startedAt: '2026-01-01T00:00:01.000Z' });
        expect((await store.messages.nextQueued('s1'))?.id).toBe('m2');
        await store.messages.update('m2', { status: 'done' });
        expect(await store.messages.nextQueued('s1')).toBeUndefined();
      });

      it('updates a message and fails with NOT_FOUND for an unknown one', async () => {
        await enqueue('m1', 's1');
        const updated = await store.messages.update('m1', {
          status: 'failed',
          error: { code: 'AGENT_FAILED', message: 'no' },
          startedAt: '2026-01-01T00:00:01.000Z',
          finishedAt: '2026-01-01T00:00:02.000Z',
        });
        expect(updated).toMatchObject({
          id: 'm1',
          seq: 1,
          prompt: 'prompt m1',
          status: 'failed',
          error: { code: 'AGENT_FAILED', message: 'no' },
          finishedAt: '2026-01-01T00:00:02.000Z',
        });
        expect(await store.messages.get('m1')).toEqual(updated);
        await expect(store.messages.update('ghost', { status: 'done' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      });

      it('lists a session’s messages in seq order, filtered by status, at most limit', async () => {
        for (let index = 1; index <= 5; index += 1) await enqueue(`m${index}`, 's1');
        await enqueue('other', 's2');
        await store.messages.update('m2', { status: 'done' });
        await store.messages.update('m4', { status: 'running' });
        const ids = (messages: Array<{ id: string }>): string[] => messages.map((message) => message.id);
        expect(ids(await store.messages.list('s1', { limit: 10 }))).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
        expect(ids(await store.messages.list('s1', { limit: 2 }))).toEqual(['m1', 'm2']);
        expect(ids(await store.messages.list('s1', { limit: 10, statuses: ['queued', 'running'] }))).toEqual(['m1', 'm3', 'm4', 'm5']);
        expect(ids(await store.messages.list('s1', { limit: 10, statuses: ['done'] }))).toEqual(['m2']);
        expect(await store.messages.list('s1', { limit: 10, statuses: [] })).toEqual([]);
        expect(await store.messages.list('nobody', { limit: 10 })).toEqual([]);
      });

      it('marks running messages interrupted, returns them, and leaves the rest alone', async () => {
        await enqueue('m1', 's1');
        await enqueue('m2', 's1');
        await enqueue('n1', 's2');
        await store.messages.update('m1', { status: 'running' });
        await store.messages.update('n1', { status: 'running' });
        const reason = { code: 'INTERRUPTED', message: 'server restarted' };
        const interrupted = await store.messages.interruptRunning(reason);
        expect(interrupted.map((message) => message.id).sort()).toEqual(['m1', 'n1']);
        for (const message of interrupted) {
          expect(message).toMatchObject({ status: 'interrupted', error: reason });
          expect(message.finishedAt).not.toBeNull();
          expect(await store.messages.get(message.id)).toEqual(message);
        }
        expect((await store.messages.get('m2'))?.status).toBe('queued');
        expect(await store.messages.interruptRunning(reason)).toEqual([]);
      });
    });

    describe('event log', () => {
      it('numbers appended events 1, 2, 3 per session and returns them', async () => {
        const first = await store.events.append('s1', [
          { type: 'status', data: { status: 'running' } },
          { type: 'sdk', data: { type: 'assistant', message: { content: [{ type: 'text', text: 'hi ✓' }] }, n: 1.5, flag: true, none: null } },
        ]);
        expect(first.map((event) => [event.sessionId, event.seq, event.type])).toEqual([
          ['s1', 1, 'status'],
          ['s1', 2, 'sdk'],
        ]);
        const second = await store.events.append('s1', [{ type: 'turn_completed', data: 'text' }]);
        expect(second[0]?.seq).toBe(3);
        expect((await store.events.append('s2', [{ type: 'woke', data: 42 }]))[0]?.seq).toBe(1);
        expect(await store.events.lastSeq('s1')).toBe(3);
        expect(await store.events.lastSeq('s2')).toBe(1);
        expect(await store.events.lastSeq('nobody')).toBe(0);
        expect(await store.events.read('s1', { after: 0, limit: 100 })).toEqual([...first, ...second]);
        expect(typeof first[0]?.createdAt).toBe('string');
      });

      it('reads events after N, in order, at most limit', async () => {
        await store.events.append(
          's1',
          Array.from({ length: 10 }, (_, index) => ({ type: 'sdk', data: { index } })),
        );
        const page = await store.events.read('s1', { after: 3, limit: 4 });
        expect(page.map((event) => event.seq)).toEqual([4, 5, 6, 7]);
        expect(page.map((event) => event.data)).toEqual([{ index: 3 }, { index: 4 }, { index: 5 }, { index: 6 }]);
        expect((await store.events.read('s1', { after: 8, limit: 100 })).map((event) => event.seq)).toEqual([9, 10]);
        expect(await store.events.read('s1', { after: 10, limit: 100 })).toEqual([]);
        expect(await store.events.read('nobody', { after: 0, limit: 100 })).toEqual([]);
      });

      it('appending nothing assigns nothing', async () => {
        expect(await store.events.append('s1', [])).toEqual([]);
        expect(await store.events.lastSeq('s1')).toBe(0);
      });

      it('numbers 50 concurrent appends 1..50 with no gap and no duplicate', async () => {
        const results = await Promise.all(Array.from({ length: 50 }, (_, index) => store.events.append('s1', [{ type: 'sdk', data: { index } }])));
        const seqs = results.map((events) => events[0]?.seq ?? -1).sort((a, b) => a - b);
        expect(seqs).toEqual(Array.from({ length: 50 }, (_, index) => index + 1));
        const stored = await store.events.read('s1', { after: 0, limit: 1000 });
        expect(stored.map((event) => event.seq)).toEqual(seqs);
        // Each stored event carries the data of the append that was given its seq.
        for (const events of results) {
          const event = events[0];
          expect(stored[(event?.seq ?? 0) - 1]?.data).toEqual(event?.data);
        }
        expect(await store.events.lastSeq('s1')).toBe(50);
      });

      it('keeps each concurrent batch contiguous and in order', async () => {
        const batches = await Promise.all(
          Array.from({ length: 12 }, (_, batch) =>
            store.events.append(
              's1',
              Array.from({ length: (batch % 4) + 1 }, (_, index) => ({ type: 'sdk', data: { batch, index } })),
            ),
          ),
        );
        const total = batches.reduce((sum, events) => sum + events.length, 0);
        const stored = await store.events.read('s1', { after: 0, limit: 1000 });
        expect(stored.map((event) => event.seq)).toEqual(Array.from({ length: total }, (_, index) => index + 1));
        for (const events of batches) {
          const seqs = events.map((event) => event.seq);
          expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, index) => (seqs[0] ?? 0) + index));
          expect(events.map((event) => (event.data as { index: number }).index)).toEqual(Array.from({ length: events.length }, (_, index) => index));
        }
      });
    });

    describe('checkpoints', () => {
      it('returns an inserted checkpoint field for field, undefined for an unknown id, CONFLICT for a taken id', async () => {
        const checkpoint = makeCheckpoint('c1', 's1', '2026-01-01T00:00:00.000Z');
        await store.checkpoints.insert(checkpoint);
        expect(await store.checkpoints.get('c1')).toEqual(checkpoint);
        expect(await store.checkpoints.get('ghost')).toBeUndefined();
        await expect(store.checkpoints.insert(checkpoint)).rejects.toMatchObject({ code: 'CONFLICT' });
      });

      it("keeps a checkpoint's manifest field for field, and a missing one (recorded before manifests) as null", async () => {
        const withManifest = makeCheckpoint('c1', 's1', '2026-01-01T00:00:00.000Z');
        await store.checkpoints.insert(withManifest);
        await store.checkpoints.insert(makeCheckpoint('c0', 's1', '2025-12-31T00:00:00.000Z', { manifest: null }));
        expect((await store.checkpoints.get('c1'))?.manifest).toEqual(withManifest.manifest);
        expect((await store.checkpoints.get('c0'))?.manifest).toBeNull();
        expect((await store.checkpoints.list('s1', 10)).map((checkpoint) => checkpoint.manifest?.archive.sha256 ?? null)).toEqual(['ab'.repeat(32), null]);
      });

      it('lists a session’s checkpoints newest first, at most limit, and deletes them', async () => {
        for (let index = 0; index < 4; index += 1) {
          await store.checkpoints.insert(makeCheckpoint(`c${index}`, 's1', `2026-01-01T00:00:0${index}.000Z`, { turn: index }));
        }
        await store.checkpoints.insert(makeCheckpoint('other', 's2', '2026-01-01T00:00:09.000Z'));
        expect((await store.checkpoints.list('s1', 10)).map((checkpoint) => checkpoint.id)).toEqual(['c3', 'c2', 'c1', 'c0']);
        expect((await store.checkpoints.list('s1', 2)).map((checkpoint) => checkpoint.turn)).toEqual([3, 2]);
        await store.checkpoints.delete('c3');
        await store.checkpoints.delete('c3');
        expect(await store.checkpoints.get('c3')).toBeUndefined();
        expect((await store.checkpoints.list('s1', 10)).map((checkpoint) => checkpoint.id)).toEqual(['c2', 'c1', 'c0']);
        expect(await store.checkpoints.list('nobody', 10)).toEqual([]);
      });

      it('lists past an offset of the newest (what retention deletes)', async () => {
        for (let index = 0; index < 5; index += 1) {
          await store.checkpoints.insert(makeCheckpoint(`c${index}`, 's1', `2026-01-01T00:00:0${index}.000Z`));
        }
        expect((await store.checkpoints.list('s1', 10, 2)).map((checkpoint) => checkpoint.id)).toEqual(['c2', 'c1', 'c0']);
        expect((await store.checkpoints.list('s1', 1, 3)).map((checkpoint) => checkpoint.id)).toEqual(['c1']);
        expect(await store.checkpoints.list('s1', 10, 5)).toEqual([]);
        expect((await store.checkpoints.list('s1', 10, 0)).map((checkpoint) => checkpoint.id)).toEqual(['c4', 'c3', 'c2', 'c1', 'c0']);
      });

      it('tells whether a record refers to a blob key, until the record is deleted', async () => {
        await store.checkpoints.insert(makeCheckpoint('c1', 's1', '2026-01-01T00:00:00.000Z', { blobKey: 'sessions/s1/c1.tar.zst' }));
        expect(await store.checkpoints.hasBlobKey('sessions/s1/c1.tar.zst')).toBe(true);
        expect(await store.checkpoints.hasBlobKey('sessions/s1/c2.tar.zst')).toBe(false);
        expect(await store.checkpoints.hasBlobKey('sessions/s1/c1.tar')).toBe(false);
        await store.checkpoints.delete('c1');
        expect(await store.checkpoints.hasBlobKey('sessions/s1/c1.tar.zst')).toBe(false);
      });

      it('lists the distinct sessions that have checkpoints, sorted and paged', async () => {
        expect(await store.checkpoints.sessionIds({ limit: 10 })).toEqual([]);
        for (const [id, sessionId] of [
          ['a1', 's-b'],
          ['a2', 's-a'],
          ['a3', 's-b'],
          ['a4', 's-c'],
          ['a5', 's-a'],
        ] as const) {
          await store.checkpoints.insert(makeCheckpoint(id, sessionId, '2026-01-01T00:00:00.000Z'));
        }
        expect(await store.checkpoints.sessionIds({ limit: 10 })).toEqual(['s-a', 's-b', 's-c']);
        expect(await store.checkpoints.sessionIds({ limit: 2 })).toEqual(['s-a', 's-b']);
        expect(await store.checkpoints.sessionIds({ limit: 2, after: 's-b' })).toEqual(['s-c']);
        await store.checkpoints.delete('a4');
        expect(await store.checkpoints.sessionIds({ limit: 10 })).toEqual(['s-a', 's-b']);
      });
    });

    describe('transcripts', () => {
      const main = { projectKey: 'proj', sessionId: 'agent-1' };
      const sub = { ...main, subpath: 'subagents/agent-a1' };

      it('returns null for a key never written, and entries deep-equal to those appended, in order', async () => {
        expect(await store.transcripts.load(main)).toBeNull();
        expect(await store.transcripts.count(main)).toBe(0);
        const first = [makeEntry('u1', 'one'), makeEntry('u2', 'two')];
        const second = [makeEntry(undefined, 'title'), makeEntry('u3', 'three')];
        await store.transcripts.append(main, first);
        await store.transcripts.append(main, second);
        expect(await store.transcripts.load(main)).toEqual([...first, ...second]);
        expect(await store.transcripts.count(main)).toBe(4);
        expect(await store.transcripts.load({ ...main, projectKey: 'other' })).toBeNull();
        expect(await store.transcripts.load(sub)).toBeNull();
      });

      it('skips entries whose uuid is stored, and always appends entries without one', async () => {
        const batch = [makeEntry('u1', 'one'), makeEntry(undefined, 'no uuid'), makeEntry('u2', 'two')];
        await store.transcripts.append(main, batch);
        await store.transcripts.append(main, batch);
        const loaded = await store.transcripts.load(main);
        expect(loaded?.map((entry) => entry.uuid ?? null)).toEqual(['u1', null, 'u2', null]);
        expect(await store.transcripts.count(main)).toBe(4);
        // A repeat inside one batch is stored once; the same uuid under another key is its own entry.
        await store.transcripts.append(main, [makeEntry('u9', 'a'), makeEntry('u9', 'b')]);
        expect((await store.transcripts.load(main))?.filter((entry) => entry.uuid === 'u9')).toEqual([makeEntry('u9', 'a')]);
        await store.transcripts.append(sub, [makeEntry('u1', 'sub one')]);
        expect(await store.transcripts.load(sub)).toEqual([makeEntry('u1', 'sub one')]);
      });

      it('loads the first `limit` entries', async () => {
        const entries = Array.from({ length: 6 }, (_, index) => makeEntry(`u${index}`, `entry ${index}`));
        await store.transcripts.append(main, entries);
        expect(await store.transcripts.load(main, { limit: 3 })).toEqual(entries.slice(0, 3));
        expect(await store.transcripts.load(main, { limit: 100 })).toEqual(entries);
        expect(await store.transcripts.load(main, { limit: 0 })).toEqual([]);
      });

      it('counts a key written with no entries as written', async () => {
        await store.transcripts.append(main, []);
        expect(await store.transcripts.load(main)).toEqual([]);
        expect((await store.transcripts.listSessions('proj')).map((session) => session.sessionId)).toEqual(['agent-1']);
      });

      it('keeps concurrent appends from one process in call order', async () => {
        const entries = Array.from({ length: 20 }, (_, index) => makeEntry(`u${index}`, `entry ${index}`));
        await Promise.all(entries.map((entry) => store.transcripts.append(main, [entry])));
        expect(await store.transcripts.load(main)).toEqual(entries);
      });

      it('lists main transcripts of a project with the epoch ms of their last write', async () => {
        const before = Date.now();
        await store.transcripts.append(main, [makeEntry('u1', 'one')]);
        await store.transcripts.append({ projectKey: 'proj', sessionId: 'agent-2' }, [makeEntry('u1', 'one')]);
        await store.transcripts.append({ projectKey: 'proj', sessionId: 'agent-3', subpath: 'subagents/agent-x' }, [makeEntry('u1', 'one')]);
        await store.transcripts.append({ projectKey: 'elsewhere', sessionId: 'agent-4' }, [makeEntry('u1', 'one')]);
        const after = Date.now();
        const listed = await store.transcripts.listSessions('proj');
        expect(listed.map((session) => session.sessionId).sort()).toEqual(['agent-1', 'agent-2']);
        for (const session of listed) {
          expect(Number.isInteger(session.mtime)).toBe(true);
          expect(session.mtime).toBeGreaterThanOrEqual(before);
          expect(session.mtime).toBeLessThanOrEqual(after);
        }
        const firstMtime = listed.find((session) => session.sessionId === 'agent-1')?.mtime ?? 0;
        await new Promise((resolve) => setTimeout(resolve, 5));
        await store.transcripts.append(main, [makeEntry('u2', 'two')]);
        const later = (await store.transcripts.listSessions('proj')).find((session) => session.sessionId === 'agent-1')?.mtime ?? 0;
        expect(later).toBeGreaterThan(firstMtime);
        // A subagent write is not a write of the main transcript.
        await new Promise((resolve) => setTimeout(resolve, 5));
        await store.transcripts.append(sub, [makeEntry('s1', 'sub')]);
        expect((await store.transcripts.listSessions('proj')).find((session) => session.sessionId === 'agent-1')?.mtime).toBe(later);
        expect(await store.transcripts.listSessions('nothing-here')).toEqual([]);
      });

      it('lists subkeys, and deletes a subpath alone or the main transcript with its subpaths', async () => {
        const sub2 = { ...main, subpath: 'subagents/agent-b2' };
        const otherSession = { projectKey: 'proj', sessionId: 'agent-2' };
        await store.transcripts.append(main, [makeEntry('u1', 'main')]);
        await store.transcripts.append(sub2, [makeEntry('u1', 'b')]);
        await store.transcripts.append(sub, [makeEntry('u1', 'a')]);
        await store.transcripts.append(otherSession, [makeEntry('u1', 'other')]);
        await store.transcripts.append({ ...otherSession, subpath: 'subagents/agent-z' }, [makeEntry('u1', 'z')]);
        expect(await store.transcripts.listSubkeys(main)).toEqual(['subagents/agent-a1', 'subagents/agent-b2']);
        expect(await store.transcripts.listSubkeys({ projectKey: 'proj', sessionId: 'nobody' })).toEqual([]);

        await store.transcripts.delete(sub2);
        expect(await store.transcripts.load(sub2)).toBeNull();
        expect(await store.transcripts.listSubkeys(main)).toEqual(['subagents/agent-a1']);
        expect(await store.transcripts.load(main)).toHaveLength(1);

        await store.transcripts.delete(main);
        expect(await store.transcripts.load(main)).toBeNull();
        expect(await store.transcripts.load(sub)).toBeNull();
        expect(await store.transcripts.count(sub)).toBe(0);
        expect(await store.transcripts.listSubkeys(main)).toEqual([]);
        expect((await store.transcripts.listSessions('proj')).map((session) => session.sessionId)).toEqual(['agent-2']);
        expect(await store.transcripts.load(otherSession)).toEqual([makeEntry('u1', 'other')]);
        expect(await store.transcripts.listSubkeys(otherSession)).toEqual(['subagents/agent-z']);

        // A deleted uuid can be written again, and deleting an unknown key is a no-op.
        await store.transcripts.append(main, [makeEntry('u1', 'again')]);
        expect(await store.transcripts.load(main)).toEqual([makeEntry('u1', 'again')]);
        await store.transcripts.delete({ projectKey: 'proj', sessionId: 'nobody' });
      });
    });

    describe('schedules', () => {
      it('returns an inserted schedule field for field, updates it, and fails with SCHEDULE_NOT_FOUND for an unknown one', async () => {
        const schedule = makeSchedule('sch1', 's1', '2026-01-01T00:05:00.000Z');
        await store.schedules.insert(schedule);
        expect(await store.schedules.get('sch1')).toEqual(schedule);
        expect(await store.schedules.get('ghost')).toBeUndefined();
        await expect(store.schedules.insert(schedule)).rejects.toMatchObject({ code: 'CONFLICT' });
        const cron = makeSchedule('sch2', 's1', '2026-01-01T01:00:00.000Z', { every: null, cron: '0 * * * *' });
        await store.schedules.insert(cron);
        expect(await store.schedules.get('sch2')).toEqual(cron);

        const updated = await store.schedules.update('sch1', { enabled: false, lastRunAt: '2026-01-01T00:05:00.000Z', nextRunAt: '2026-01-01T00:10:00.000Z' });
        expect(updated).toEqual({ ...schedule, enabled: false, lastRunAt: '2026-01-01T00:05:00.000Z', nextRunAt: '2026-01-01T00:10:00.000Z' });
        expect(await store.schedules.get('sch1')).toEqual(updated);
        await expect(store.schedules.update('ghost', { enabled: false })).rejects.toMatchObject({ code: 'SCHEDULE_NOT_FOUND' });
      });

      it('lists a session’s schedules oldest first and deletes them', async () => {
        await store.schedules.insert(makeSchedule('b', 's1', '2026-01-01T00:05:00.000Z', { createdAt: '2026-01-01T00:00:02.000Z' }));
        await store.schedules.insert(makeSchedule('a', 's1', '2026-01-01T00:05:00.000Z', { createdAt: '2026-01-01T00:00:01.000Z' }));
        await store.schedules.insert(makeSchedule('c', 's2', '2026-01-01T00:05:00.000Z'));
        expect((await store.schedules.list('s1')).map((schedule) => schedule.id)).toEqual(['a', 'b']);
        await store.schedules.delete('a');
        await store.schedules.delete('a');
        expect((await store.schedules.list('s1')).map((schedule) => schedule.id)).toEqual(['b']);
        expect(await store.schedules.list('nobody')).toEqual([]);
      });

      it('finds enabled schedules due at `now`, earliest first, at most limit', async () => {
        await store.schedules.insert(makeSchedule('late', 's1', '2026-01-01T00:03:00.000Z'));
        await store.schedules.insert(makeSchedule('early', 's1', '2026-01-01T00:01:00.000Z'));
        await store.schedules.insert(makeSchedule('exact', 's2', '2026-01-01T00:04:00.000Z'));
        await store.schedules.insert(makeSchedule('future', 's1', '2026-01-01T00:04:00.001Z'));
        await store.schedules.insert(makeSchedule('disabled', 's1', '2026-01-01T00:00:00.000Z', { enabled: false }));
        const now = '2026-01-01T00:04:00.000Z';
        expect((await store.schedules.due(now, 10)).map((schedule) => schedule.id)).toEqual(['early', 'late', 'exact']);
        expect((await store.schedules.due(now, 2)).map((schedule) => schedule.id)).toEqual(['early', 'late']);
        await store.schedules.update('early', { nextRunAt: '2026-01-01T00:09:00.000Z' });
        await store.schedules.update('disabled', { enabled: true });
        expect((await store.schedules.due(now, 10)).map((schedule) => schedule.id)).toEqual(['disabled', 'late', 'exact']);
        expect(await store.schedules.due('2025-12-31T00:00:00.000Z', 10)).toEqual([]);
      });
    });

    describe('shared sandboxes', () => {
      const sandbox = (id: string, createdAt: string, tenantId = 'default') => ({
        id,
        tenantId,
        status: 'active' as const,
        resources: { memoryMb: 1024, cpus: 2 },
        createdAt,
        closedAt: null,
      });

      it('returns an inserted sandbox, updates it, and fails with SANDBOX_NOT_FOUND for an unknown one', async () => {
        await store.sharedSandboxes.insert(sandbox('sbx1', '2026-01-01T00:00:00.000Z'));
        expect(await store.sharedSandboxes.get('sbx1')).toEqual(sandbox('sbx1', '2026-01-01T00:00:00.000Z'));
        expect(await store.sharedSandboxes.get('ghost')).toBeUndefined();
        await expect(store.sharedSandboxes.insert(sandbox('sbx1', '2026-01-01T00:00:00.000Z'))).rejects.toMatchObject({ code: 'CONFLICT' });
        const closed = await store.sharedSandboxes.update('sbx1', { status: 'closed', closedAt: '2026-01-01T01:00:00.000Z' });
        expect(closed).toEqual({ ...sandbox('sbx1', '2026-01-01T00:00:00.000Z'), status: 'closed', closedAt: '2026-01-01T01:00:00.000Z' });
        expect(await store.sharedSandboxes.get('sbx1')).toEqual(closed);
        await expect(store.sharedSandboxes.update('ghost', { status: 'closed' })).rejects.toMatchObject({ code: 'SANDBOX_NOT_FOUND' });
      });

      it('lists oldest first, optionally by status', async () => {
        await store.sharedSandboxes.insert(sandbox('b', '2026-01-01T00:00:02.000Z'));
        await store.sharedSandboxes.insert(sandbox('a', '2026-01-01T00:00:01.000Z'));
        await store.sharedSandboxes.insert(sandbox('c', '2026-01-01T00:00:03.000Z'));
        await store.sharedSandboxes.update('b', { status: 'closed', closedAt: '2026-01-01T00:00:04.000Z' });
        expect((await store.sharedSandboxes.list()).map((record) => record.id)).toEqual(['a', 'b', 'c']);
        expect((await store.sharedSandboxes.list({ status: 'active' })).map((record) => record.id)).toEqual(['a', 'c']);
        expect((await store.sharedSandboxes.list({ status: 'closed' })).map((record) => record.id)).toEqual(['b']);
      });
    });

    describe('egress log', () => {
      const entry = (host: string, verdict: 'allowed' | 'denied' = 'allowed') => ({
        at: '2026-01-01T00:00:00.000Z',
        method: 'CONNECT',
        host,
        port: 443,
        verdict,
        reason: verdict === 'allowed' ? host : `host ${host}:443 is not in the allowed hosts`,
        address: verdict === 'allowed' ? '203.0.113.7' : null,
        bytesOut: 10,
        bytesIn: 2000,
        durationMs: 15,
      });

      it('numbers entries per owner, lists them after a number, and keeps each owner apart', async () => {
        await store.egress.append('s1', [entry('a.test'), entry('b.test', 'denied')], 100);
        await store.egress.append('s2', [entry('c.test')], 100);
        await store.egress.append('s1', [entry('d.test')], 100);
        expect(await store.egress.list('s1', { limit: 10 })).toEqual([
          { seq: 1, ...entry('a.test') },
          { seq: 2, ...entry('b.test', 'denied') },
          { seq: 3, ...entry('d.test') },
        ]);
        expect((await store.egress.list('s1', { after: 1, limit: 1 })).map((logged) => logged.host)).toEqual(['b.test']);
        expect((await store.egress.list('s2', { limit: 10 })).map((logged) => logged.seq)).toEqual([1]);
        expect(await store.egress.list('ghost', { limit: 10 })).toEqual([]);
      });

      it('keeps only the newest entries of an owner, and forgets an owner entirely', async () => {
        for (let batch = 0; batch < 3; batch += 1)
          await store.egress.append(
            's1',
            [1, 2, 3, 4].map((n) => entry(`h${batch * 4 + n}.test`)),
            5,
          );
        expect((await store.egress.list('s1', { limit: 100 })).map((logged) => logged.seq)).toEqual([8, 9, 10, 11, 12]);
        await store.egress.deleteOwner('s1');
        expect(await store.egress.list('s1', { limit: 100 })).toEqual([]);
        await store.egress.append('s1', [entry('again.test')], 5);
        expect((await store.egress.list('s1', { limit: 100 })).map((logged) => logged.seq)).toEqual([1]);
      });
    });

    secretRepositoryContract({
      store: () => store,
      ...(options.reopen !== undefined ? { reopen: async () => void (store = await options.reopen!(store)) } : {}),
    });

    tenantRepositoryContract({
      store: () => store,
      ...(options.reopen !== undefined ? { reopen: async () => void (store = await options.reopen!(store)) } : {}),
    });

    describe('API keys', () => {
      const key = (id: string, createdAt: string) => ({
        id,
        tenantId: 'default',
        name: `key ${id}`,
        secretHash: 'a'.repeat(64),
        scopes: ['run' as const, 'read' as const],
        createdAt,
        revokedAt: null,
        lastUsedAt: null,
      });

      it('stores keys, lists them oldest first, revokes once, and records their last use', async () => {
        await store.apiKeys.insert(key('k2', '2026-01-01T00:00:02.000Z'));
        await store.apiKeys.insert(key('k1', '2026-01-01T00:00:01.000Z'));
        await expect(store.apiKeys.insert(key('k1', '2026-01-01T00:00:01.000Z'))).rejects.toMatchObject({ code: 'CONFLICT' });
        expect(await store.apiKeys.get('k1')).toEqual(key('k1', '2026-01-01T00:00:01.000Z'));
        expect(await store.apiKeys.get('ghost')).toBeUndefined();
        expect((await store.apiKeys.list()).map((stored) => stored.id)).toEqual(['k1', 'k2']);
        const revoked = await store.apiKeys.revoke('k1', '2026-01-02T00:00:00.000Z');
        expect(revoked.revokedAt).toBe('2026-01-02T00:00:00.000Z');
        expect((await store.apiKeys.revoke('k1', '2026-01-03T00:00:00.000Z')).revokedAt).toBe('2026-01-02T00:00:00.000Z');
        await expect(store.apiKeys.revoke('ghost', '2026-01-02T00:00:00.000Z')).rejects.toMatchObject({ code: 'API_KEY_NOT_FOUND' });
        await store.apiKeys.touch('k2', '2026-01-04T00:00:00.000Z');
        expect((await store.apiKeys.get('k2'))?.lastUsedAt).toBe('2026-01-04T00:00:00.000Z');
      });
    });

    if (options.reopen) {
      const reopen = options.reopen;
      it('keeps sessions, queues, events, checkpoints, transcripts, schedules and sandboxes after a reopen', async () => {
        const session = makeSession('s1', '2026-01-01T00:00:00.000Z', { metadata: { team: 'a' } });
        await store.sessions.insert(session);
        await store.messages.enqueue({ id: 'm1', sessionId: 's1', prompt: 'p', source: 'api', createdAt: '2026-01-01T00:00:00.000Z' });
        await store.events.append('s1', [
          { type: 'status', data: { status: 'idle' } },
          { type: 'sdk', data: { n: 1 } },
        ]);
        await store.checkpoints.insert(makeCheckpoint('c1', 's1', '2026-01-01T00:00:00.000Z'));
        const key = { projectKey: 'proj', sessionId: 'agent-1' };
        await store.transcripts.append(key, [makeEntry('u1', 'one'), makeEntry(undefined, 'title')]);
        await store.transcripts.append({ ...key, subpath: 'subagents/agent-a' }, [makeEntry('u1', 'sub')]);
        const mtime = (await store.transcripts.listSessions('proj'))[0]?.mtime;
        await store.schedules.insert(makeSchedule('sch1', 's1', '2026-01-01T00:05:00.000Z'));
        await store.sharedSandboxes.insert({
          id: 'sbx1',
          tenantId: 'default',
          status: 'active',
          resources: {},
          createdAt: '2026-01-01T00:00:00.000Z',
          closedAt: null,
        });

        store = await reopen(store);

        expect(await store.sessions.get('s1')).toEqual(session);
        expect((await store.sessions.list({ limit: 10, metadata: { team: 'a' } })).map((record) => record.id)).toEqual(['s1']);
        expect((await store.messages.nextQueued('s1'))?.id).toBe('m1');
        expect((await store.messages.enqueue({ id: 'm2', sessionId: 's1', prompt: 'p', source: 'api', createdAt: '2026-01-01T00:00:01.000Z' })).seq).toBe(2);
        expect(await store.events.lastSeq('s1')).toBe(2);
        expect((await store.events.append('s1', [{ type: 'woke', data: null }]))[0]?.seq).toBe(3);
        expect((await store.events.read('s1', { after: 0, limit: 10 })).map((event) => event.data)).toEqual([{ status: 'idle' }, { n: 1 }, null]);
        expect(await store.checkpoints.get('c1')).toEqual(makeCheckpoint('c1', 's1', '2026-01-01T00:00:00.000Z'));
        expect(await store.transcripts.listSessions('proj')).toEqual([{ sessionId: 'agent-1', mtime }]);
        await store.transcripts.append(key, [makeEntry('u1', 'one'), makeEntry('u2', 'two')]);
        expect(await store.transcripts.load(key)).toEqual([makeEntry('u1', 'one'), makeEntry(undefined, 'title'), makeEntry('u2', 'two')]);
        expect(await store.transcripts.listSubkeys(key)).toEqual(['subagents/agent-a']);
        expect((await store.schedules.due('2026-01-01T00:05:00.000Z', 10)).map((schedule) => schedule.id)).toEqual(['sch1']);
        expect((await store.sharedSandboxes.list({ status: 'active' })).map((record) => record.id)).toEqual(['sbx1']);
      });
    }
  });
}
