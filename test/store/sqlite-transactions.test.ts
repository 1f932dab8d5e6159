// The SQLite adapter's read-modify-writes run in transactions: concurrent patches of one record all
// survive, and a patch that fails part-way leaves nothing of itself behind.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import type { Store } from '../../src/store/store.js';
import { makeSchedule, makeSession, makeTask } from '../contracts/store.contract.js';

const directory = mkdtempSync(path.join(tmpdir(), 'hangar-sqlite-trx-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('SQLite store transactions', () => {
  let store: Store;
  let counter = 0;
  beforeEach(async () => {
    counter += 1;
    store = await createSqliteStore({ filePath: path.join(directory, `store-${counter}.db`) });
  });
  afterEach(async () => {
    await store.close();
  });

  it('keeps every one of concurrent patches of different fields, in each repository that patches', async () => {
    await store.tasks.insert(makeTask('t1', '2026-01-01T00:00:00.000Z'));
    await store.sessions.insert(makeSession('s1', '2026-01-01T00:00:00.000Z'));
    const message = await store.messages.enqueue({ id: 'm1', sessionId: 's1', prompt: 'p', source: 'api', createdAt: '2026-01-01T00:00:00.000Z' });
    await store.schedules.insert(makeSchedule('sch1', 's1', '2026-01-01T00:05:00.000Z'));
    await store.sharedSandboxes.insert({
      id: 'sbx1',
      tenantId: 'default',
      status: 'active',
      resources: { memoryMb: 256 },
      createdAt: '2026-01-01T00:00:00.000Z',
      closedAt: null,
    });

    await Promise.all([
      store.tasks.update('t1', { status: 'succeeded' }),
      store.sessions.update('s1', { turns: 4 }),
      store.messages.update('m1', { status: 'running' }),
      store.schedules.update('sch1', { enabled: false }),
      store.sharedSandboxes.update('sbx1', { status: 'closed' }),
      store.tasks.update('t1', { result: 'done', costUsd: 0.75 }),
      store.sessions.update('s1', { metadata: { team: 'a' }, lastCheckpointId: 'c1' }),
      store.messages.update('m1', { startedAt: '2026-01-01T00:00:01.000Z' }),
      store.schedules.update('sch1', { lastRunAt: '2026-01-01T00:05:00.000Z' }),
      store.sharedSandboxes.update('sbx1', { closedAt: '2026-01-01T01:00:00.000Z' }),
    ]);

    expect(await store.tasks.get('t1')).toMatchObject({ status: 'succeeded', result: 'done', costUsd: 0.75 });
    expect(await store.sessions.get('s1')).toMatchObject({ turns: 4, metadata: { team: 'a' }, lastCheckpointId: 'c1' });
    expect((await store.sessions.list({ limit: 5, metadata: { team: 'a' } })).map((session) => session.id)).toEqual(['s1']);
    expect(await store.messages.get('m1')).toEqual({ ...message, status: 'running', startedAt: '2026-01-01T00:00:01.000Z' });
    expect(await store.schedules.get('sch1')).toMatchObject({ enabled: false, lastRunAt: '2026-01-01T00:05:00.000Z' });
    expect(await store.sharedSandboxes.get('sbx1')).toMatchObject({ status: 'closed', closedAt: '2026-01-01T01:00:00.000Z' });
  });

  it('leaves a session as it was when a patch fails part-way (its metadata rows cannot be written)', async () => {
    const session = makeSession('s1', '2026-01-01T00:00:00.000Z', { metadata: { team: 'a' } });
    await store.sessions.insert(session);
    // session_metadata.value is NOT NULL: the session row is written first, then this fails.
    const broken = { team: 'b', owner: null as unknown as string };
    await expect(store.sessions.update('s1', { status: 'running', turns: 9, metadata: broken })).rejects.toThrow(/NOT NULL/);
    expect(await store.sessions.get('s1')).toEqual(session);
    expect((await store.sessions.list({ limit: 5, metadata: { team: 'a' } })).map((found) => found.id)).toEqual(['s1']);
    expect(await store.sessions.list({ limit: 5, metadata: { team: 'b' } })).toEqual([]);
  });
});
