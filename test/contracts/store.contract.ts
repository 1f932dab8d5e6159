// Contract suite of the Store port: every adapter must pass it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store, TaskRecord } from '../../src/store/store.js';
import { ZERO_USAGE } from '../../src/store/store.js';

export function makeTask(id: string, createdAt: string, overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id,
    status: 'running',
    prompt: `prompt of ${id}`,
    options: { maxTurns: 3, allowedTools: ['Bash'] },
    createdAt,
    finishedAt: null,
    durationMs: null,
    result: null,
    error: null,
    numTurns: null,
    agentSessionId: null,
    usage: { ...ZERO_USAGE },
    usageByModel: {},
    costUsd: 0,
    files: [],
    sandboxReport: null,
    ...overrides,
  };
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

    it('lists newest first, filters by status and pages with a cursor', async () => {
      for (let index = 0; index < 5; index += 1) {
        await store.tasks.insert(
          makeTask(`t${index}`, `2026-01-01T00:00:0${index}.000Z`, { status: index % 2 === 0 ? 'succeeded' : 'failed' }),
        );
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
  });
}
