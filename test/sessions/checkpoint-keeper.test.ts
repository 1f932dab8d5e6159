// Checkpoint retention, deletion with the session, and the sweep of unreferenced blobs, over a real
// SQLite file and the in-memory store, with a real local blob directory. Snapshots are made by a
// host tar (test/helpers/host-process-sandbox.ts) and verified by the real host verifier.
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { blobKeyFor, createCheckpointKeeper, type CheckpointKeeper } from '../../src/sessions/checkpoint-keeper.js';
import { verifySnapshotArchive } from '../../src/sessions/snapshot-verifier.js';
import { snapshotLimits } from '../../src/sessions/workspace-snapshots.js';
import type { BlobStore } from '../../src/store/blobs/blob-store.js';
import { createInMemoryStore } from '../../src/store/in-memory/index.js';
import { createLocalBlobStore } from '../../src/store/blobs/local.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import type { SessionRecord, Store } from '../../src/store/store.js';
import { makeSession } from '../contracts/store.contract.js';
import { hostProcessSandbox } from '../helpers/host-process-sandbox.js';

const RETENTION = 3;
const logger = pino({ level: 'silent' });
/** The snapshot settings every keeper here runs with. */
const KEEPER_SETTINGS = { homeExcludes: [], restoreTimeoutMs: 30_000 };

function sessionRecord(id: string, status: SessionRecord['status'] = 'idle'): SessionRecord {
  return makeSession(id, new Date().toISOString(), { status, options: {} });
}

async function blobFiles(directory: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (current: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true }).catch(() => [])) {
      if (entry.isDirectory()) await walk(path.join(current, entry.name), `${prefix}${entry.name}/`);
      else found.push(`${prefix}${entry.name}`);
    }
  };
  await walk(directory, '');
  return found.sort();
}

const adapters: Array<[string, (directory: string) => Promise<Store>]> = [
  ['in-memory', async () => createInMemoryStore()],
  ['sqlite', async (directory) => createSqliteStore({ filePath: path.join(directory, 'hangar.db') })],
];

describe.each(adapters)('checkpoint keeper over the %s store', (_name, makeStore) => {
  let root: string;
  let workspace: string;
  let blobDir: string;
  let store: Store;
  let blobs: BlobStore;
  let keeper: CheckpointKeeper;
  let home: string;
  const sandbox = () => hostProcessSandbox(() => 'exec tar "$@"', workspace, home);
  const limits = snapshotLimits({ snapshotTimeoutMs: 30_000 }, 16);

  /** Takes a checkpoint and points the session at it, as a turn does. */
  const turn = async (sessionId: string, number: number) => {
    const checkpoint = await keeper.take({ sessionId, turn: number, sandbox: sandbox(), limits, agentSessionId: '', transcriptProjectKey: undefined });
    await store.sessions.update(sessionId, { lastCheckpointId: checkpoint.id, turns: number });
    await keeper.applyRetention(sessionId);
    return checkpoint;
  };

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'hangar-keeper-'));
    workspace = path.join(root, 'workspace');
    home = path.join(root, 'home');
    await mkdir(workspace);
    await mkdir(home);
    await writeFile(path.join(workspace, 'notes.txt'), 'kept\n');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await store?.close();
    const directory = await mkdtemp(path.join(root, 'case-'));
    blobDir = path.join(directory, 'blobs');
    store = await makeStore(directory);
    blobs = createLocalBlobStore({ directory: blobDir });
    keeper = createCheckpointKeeper({ store, blobs, retention: RETENTION, logger, ...KEEPER_SETTINGS });
  });

  it('keeps the newest N checkpoints of a session and deletes older records with their blobs', async () => {
    await store.sessions.insert(sessionRecord('s1'));
    const taken = [];
    for (let number = 1; number <= 6; number += 1) taken.push(await turn('s1', number));
    const kept = taken.slice(-RETENTION);
    expect((await store.checkpoints.list('s1', 100)).map((checkpoint) => checkpoint.id)).toEqual(kept.map((checkpoint) => checkpoint.id).reverse());
    expect(await blobFiles(blobDir)).toEqual(kept.map((checkpoint) => checkpoint.blobKey).sort());
  });

  it('never deletes the checkpoint the session resumes from, even when newer ones exist', async () => {
    await store.sessions.insert(sessionRecord('s1'));
    const resumeFrom = await turn('s1', 1);
    // Newer checkpoints recorded but never pointed at (a crash between record and session update).
    for (let number = 2; number <= 6; number += 1) {
      await keeper.take({ sessionId: 's1', turn: number, sandbox: sandbox(), limits, agentSessionId: '', transcriptProjectKey: undefined });
    }
    await keeper.applyRetention('s1');
    const ids = (await store.checkpoints.list('s1', 100)).map((checkpoint) => checkpoint.id);
    expect(ids).toHaveLength(RETENTION + 1);
    expect(ids).toContain(resumeFrom.id);
    expect(await blobs.exists(resumeFrom.blobKey)).toBe(true);
  });

  it('does not delete a checkpoint while a fork copies it', async () => {
    await store.sessions.insert(sessionRecord('s1'));
    const source = await turn('s1', 1);
    // A blob store whose puts for the fork stall until released: the copy is in progress while turns
    // of the source take checkpoints and apply retention.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slowBlobs: BlobStore = {
      ...blobs,
      put: async (key, data) => {
        if (key.startsWith('sessions/fork-1/')) await gate;
        return blobs.put(key, data);
      },
    };
    keeper = createCheckpointKeeper({ store, blobs: slowBlobs, retention: RETENTION, logger, ...KEEPER_SETTINGS });
    const copying = keeper.copy(source, 'fork-1');
    for (let number = 2; number <= 6; number += 1) await turn('s1', number);
    expect(await store.checkpoints.get(source.id)).toBeDefined();
    expect(await store.checkpoints.list('s1', 100)).toHaveLength(RETENTION + 1);
    release();
    const copied = await copying;
    expect(copied.sessionId).toBe('fork-1');
    expect(await blobs.exists(copied.blobKey)).toBe(true);
    await keeper.applyRetention('s1');
    expect(await store.checkpoints.get(source.id)).toBeUndefined();
    expect(await blobs.exists(source.blobKey)).toBe(false);
  });

  it('deletes every checkpoint and blob of a session, and no other session’s', async () => {
    await store.sessions.insert(sessionRecord('s1'));
    await store.sessions.insert(sessionRecord('s2'));
    for (let number = 1; number <= 3; number += 1) await turn('s1', number);
    const other = await turn('s2', 1);
    expect(await keeper.deleteAll('s1')).toBe(3);
    expect(await store.checkpoints.list('s1', 100)).toEqual([]);
    expect(await blobFiles(blobDir)).toEqual([other.blobKey]);
  });

  it('sweeps blobs without a record, closed sessions’ checkpoints and those past retention, but not a blob being written', async () => {
    await store.sessions.insert(sessionRecord('open'));
    await store.sessions.insert(sessionRecord('closed', 'closed'));
    const open = [];
    for (let number = 1; number <= 2; number += 1) open.push(await turn('open', number));
    const closed = await keeper.take({ sessionId: 'closed', turn: 1, sandbox: sandbox(), limits, agentSessionId: '', transcriptProjectKey: undefined });
    // Retention tightened since the open session's checkpoints were taken; verification held at a gate.
    let reached!: () => void;
    const verifying = new Promise<void>((resolve) => {
      reached = resolve;
    });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    keeper = createCheckpointKeeper({
      store,
      blobs,
      retention: 1,
      logger,
      ...KEEPER_SETTINGS,
      verify: async (archive, verifyLimits) => {
        reached();
        await gate;
        return verifySnapshotArchive(archive, verifyLimits);
      },
    });
    // Left by a crash: a blob whose record was never written, and one whose record was deleted.
    await blobs.put(blobKeyFor('open', 'ckpt_crashed'), Buffer.from('partial'));
    await blobs.put(blobKeyFor('gone', 'ckpt_gone'), Buffer.from('old'));
    // Not a checkpoint blob: outside sessions/, the sweep leaves it.
    await blobs.put('other/thing', Buffer.from('x'));
    // A checkpoint being taken while the sweep runs: its blob is stored, its record not yet written.
    const writing = keeper.take({ sessionId: 'open', turn: 3, sandbox: sandbox(), limits, agentSessionId: '', transcriptProjectKey: undefined });
    await verifying;
    const swept = await keeper.sweep();
    release();
    expect(swept).toEqual({ checkpoints: 2, orphanBlobs: 2 });
    expect(await store.checkpoints.get(closed.id)).toBeUndefined();
    expect(await store.checkpoints.get(open[0]!.id)).toBeUndefined();
    expect(await store.checkpoints.get(open[1]!.id)).toBeDefined();
    const third = await writing;
    expect(await blobFiles(blobDir)).toEqual(['other/thing', open[1]!.blobKey, third.blobKey].sort());
  });

  it('records nothing and leaves no blob when the snapshot fails, and the previous checkpoint stays', async () => {
    await store.sessions.insert(sessionRecord('s1'));
    const good = await turn('s1', 1);
    const failing = hostProcessSandbox(() => 'head -c 100000 /dev/urandom', workspace);
    await expect(
      keeper.take({ sessionId: 's1', turn: 2, sandbox: failing, limits, agentSessionId: '', transcriptProjectKey: undefined }),
    ).rejects.toMatchObject({ code: 'CHECKPOINT_FAILED' });
    expect((await store.checkpoints.list('s1', 100)).map((checkpoint) => checkpoint.id)).toEqual([good.id]);
    expect(await blobFiles(blobDir)).toEqual([good.blobKey]);
  });
});
