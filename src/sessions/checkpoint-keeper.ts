// Checkpoints of sessions, from snapshot to deletion: takes them (a bounded, verified snapshot of
// the workspace and HOME plus the transcript position, with a manifest of both), restores them (the
// manifest verified first), copies one for a fork, keeps the newest N per session
// (`sessions.checkpointRetention`) and never the one a session resumes from or a fork is copying,
// deletes them all with their session, and sweeps blobs no checkpoint record refers to (at start and
// every `sessions.blobSweepIntervalSec`).
// A record is deleted before its blob, and a blob is recorded only after it is complete and verified,
// so a crash leaves at worst a blob without a record, which the next sweep deletes.
import type { Logger } from 'pino';
import { newRecordId } from '../ids.js';
import type { Sandbox } from '../sandbox/sandbox-provider.js';
import type { BlobStore } from '../store/blobs/blob-store.js';
import type { CheckpointRecord, Store } from '../store/store.js';
import { isoNow, systemClock, type Clock, type TimerHandle } from './clock.js';
import { tarArchiver, type SandboxStateArchiver, type SnapshotLimits } from './workspace-snapshots.js';
import type { SnapshotVerifier } from './snapshot-verifier.js';
import { buildManifest, verifyCheckpoint } from './checkpoint-manifest.js';

/** Every checkpoint blob lives under this prefix: sessions/<sessionId>/<checkpointId>.tar.zst. */
const BLOB_PREFIX = 'sessions/';
const PAGE = 500;

export interface CheckpointKeeperDependencies {
  store: Store;
  blobs: BlobStore;
  /** Checkpoints kept per session. */
  retention: number;
  logger: Logger;
  /** Verification of stored snapshots (default: the host verifier). */
  verify?: SnapshotVerifier;
  /** Paths under HOME left out of every snapshot (sessions.checkpointHomeExcludes). */
  homeExcludes: readonly string[];
  /** Time limit of verifying a checkpoint's manifest and of unpacking it (each). */
  restoreTimeoutMs: number;
  /** How a sandbox's state is archived and unpacked (default: tar inside the sandbox). */
  archiver?: SandboxStateArchiver;
  /** Time and the sweep timer (default: the system clock). */
  clock?: Clock;
}

export interface TakeCheckpointInput {
  sessionId: string;
  turn: number;
  sandbox: Sandbox;
  limits: SnapshotLimits;
  agentSessionId: string;
  /** Where the transcript is mirrored; undefined when there is none yet. */
  transcriptProjectKey: string | undefined;
}

export interface CheckpointKeeper {
  /** Snapshots the workspace and records the checkpoint; fails (nothing recorded, no blob left) with CHECKPOINT_FAILED. */
  take(input: TakeCheckpointInput): Promise<CheckpointRecord>;
  /**
   * Verifies the checkpoint against its manifest (CHECKPOINT_CORRUPT naming it on a mismatch, before
   * anything is unpacked), then unpacks its workspace and HOME into the sandbox.
   */
  restore(sandbox: Sandbox, checkpoint: CheckpointRecord): Promise<void>;
  /** Records a copy of a checkpoint (its own blob) as the first checkpoint of another session. */
  copy(checkpoint: CheckpointRecord, toSessionId: string): Promise<CheckpointRecord>;
  /** Deletes the session's checkpoints beyond the newest N, except the one it resumes from and pinned ones. */
  applyRetention(sessionId: string): Promise<number>;
  /** Deletes every checkpoint of the session and its blob. */
  deleteAll(sessionId: string): Promise<number>;
  /**
   * Applies retention to every session with checkpoints (all of a closed session's go),
   * then deletes checkpoint blobs that no record refers to.
   */
  sweep(): Promise<{ checkpoints: number; orphanBlobs: number }>;
  /** Sweeps every intervalMs until stopSweeping(). */
  startSweeping(intervalMs: number): void;
  stopSweeping(): Promise<void>;
}

export function blobKeyFor(sessionId: string, checkpointId: string): string {
  return `${BLOB_PREFIX}${sessionId}/${checkpointId}.tar.zst`;
}

const newCheckpointId = (): string => newRecordId('ckpt');

export function createCheckpointKeeper(dependencies: CheckpointKeeperDependencies): CheckpointKeeper {
  const { store, blobs, retention, logger } = dependencies;
  const archiver = dependencies.archiver ?? tarArchiver;
  const clock = dependencies.clock ?? systemClock;
  /** Blob keys between the start of their put and their record's insert: the sweep leaves them alone. */
  const writing = new Set<string>();
  /** Checkpoint ids being read (a fork copying one): retention leaves them alone. */
  const pinned = new Map<string, number>();
  let timer: TimerHandle | undefined;
  let sweeping: Promise<unknown> = Promise.resolve();

  const whileWriting = async <T>(blobKey: string, work: () => Promise<T>): Promise<T> => {
    writing.add(blobKey);
    try {
      return await work();
    } finally {
      writing.delete(blobKey);
    }
  };

  const deleteCheckpoint = async (checkpoint: CheckpointRecord): Promise<void> => {
    await store.checkpoints.delete(checkpoint.id);
    if (!(await store.checkpoints.hasBlobKey(checkpoint.blobKey))) await blobs.delete(checkpoint.blobKey);
  };

  const keeper: CheckpointKeeper = {
    async take(input) {
      const checkpointId = newCheckpointId();
      const blobKey = blobKeyFor(input.sessionId, checkpointId);
      return whileWriting(blobKey, async () => {
        const archive = await archiver.snapshot(input.sandbox, blobs, blobKey, input.limits, {
          homeExcludes: dependencies.homeExcludes,
          ...(dependencies.verify !== undefined ? { verify: dependencies.verify } : {}),
        });
        const { sizeBytes } = archive;
        try {
          const manifest = await buildManifest(store.transcripts, {
            archive,
            projectKey: input.transcriptProjectKey,
            agentSessionId: input.agentSessionId,
            homeExcludes: dependencies.homeExcludes,
          });
          const transcriptEntries = manifest.transcript.entries;
          const checkpoint: CheckpointRecord = {
            id: checkpointId,
            sessionId: input.sessionId,
            turn: input.turn,
            blobKey,
            sizeBytes,
            agentSessionId: input.agentSessionId,
            transcriptEntries,
            manifest,
            createdAt: isoNow(clock),
          };
          await store.checkpoints.insert(checkpoint);
          return checkpoint;
        } catch (error) {
          await blobs.delete(blobKey).catch(() => undefined);
          throw error;
        }
      });
    },

    async restore(sandbox, checkpoint) {
      const timeoutMs = dependencies.restoreTimeoutMs;
      await verifyCheckpoint(checkpoint, { blobs, transcripts: store.transcripts, timeoutMs });
      // A checkpoint without a manifest predates them: its archive holds the workspace only.
      await archiver.restore(sandbox, blobs, checkpoint.blobKey, checkpoint.manifest === null ? 1 : 2, timeoutMs);
    },

    async copy(checkpoint, toSessionId) {
      const count = pinned.get(checkpoint.id) ?? 0;
      pinned.set(checkpoint.id, count + 1);
      try {
        const id = newCheckpointId();
        const blobKey = blobKeyFor(toSessionId, id);
        return await whileWriting(blobKey, async () => {
          const { sizeBytes } = await blobs.put(blobKey, await blobs.get(checkpoint.blobKey));
          const copied: CheckpointRecord = { ...checkpoint, id, sessionId: toSessionId, blobKey, sizeBytes, createdAt: isoNow(clock) };
          try {
            await store.checkpoints.insert(copied);
          } catch (error) {
            await blobs.delete(blobKey).catch(() => undefined);
            throw error;
          }
          return copied;
        });
      } finally {
        const left = (pinned.get(checkpoint.id) ?? 1) - 1;
        if (left === 0) pinned.delete(checkpoint.id);
        else pinned.set(checkpoint.id, left);
      }
    },

    async applyRetention(sessionId) {
      const session = await store.sessions.get(sessionId);
      let deleted = 0;
      for (;;) {
        // Those past the newest N; what is kept stays in the next page, so a page with nothing to delete ends it.
        const older = await store.checkpoints.list(sessionId, PAGE, retention);
        const doomed = older.filter((checkpoint) => checkpoint.id !== session?.lastCheckpointId && !pinned.has(checkpoint.id));
        for (const checkpoint of doomed) await deleteCheckpoint(checkpoint);
        deleted += doomed.length;
        if (older.length < PAGE || doomed.length === 0) return deleted;
      }
    },

    async deleteAll(sessionId) {
      let deleted = 0;
      for (;;) {
        const page = await store.checkpoints.list(sessionId, PAGE);
        for (const checkpoint of page) await deleteCheckpoint(checkpoint);
        deleted += page.length;
        if (page.length < PAGE) return deleted;
      }
    },

    async sweep() {
      const run = async (): Promise<{ checkpoints: number; orphanBlobs: number }> => {
        let checkpoints = 0;
        for (let after: string | undefined; ;) {
          const ids = await store.checkpoints.sessionIds({ limit: PAGE, ...(after !== undefined ? { after } : {}) });
          for (const sessionId of ids) {
            // A session not stored (yet) is a fork being created: its copied checkpoint is left alone.
            const session = await store.sessions.get(sessionId);
            if (session === undefined) continue;
            checkpoints += session.status === 'closed' ? await keeper.deleteAll(sessionId) : await keeper.applyRetention(sessionId);
          }
          if (ids.length < PAGE) break;
          after = ids.at(-1);
        }
        let orphanBlobs = 0;
        for (const key of await blobs.list(BLOB_PREFIX)) {
          // Checked in this order: a key no longer being written has its record already (or never will).
          if (writing.has(key) || (await store.checkpoints.hasBlobKey(key))) continue;
          await blobs.delete(key);
          orphanBlobs += 1;
        }
        if (checkpoints > 0 || orphanBlobs > 0) logger.info({ checkpoints, orphanBlobs }, 'checkpoint sweep deleted old checkpoints and unreferenced blobs');
        return { checkpoints, orphanBlobs };
      };
      // One sweep at a time.
      const next = sweeping.catch(() => undefined).then(run);
      sweeping = next;
      return next;
    },

    startSweeping(intervalMs) {
      const tick = (): void => {
        timer = clock.setTimeout(tick, intervalMs);
        keeper.sweep().catch((error: unknown) => logger.error({ err: error }, 'checkpoint sweep failed'));
      };
      timer = clock.setTimeout(tick, intervalMs);
    },

    async stopSweeping() {
      clock.clearTimeout(timer);
      timer = undefined;
      await sweeping.catch(() => undefined);
    },
  };
  return keeper;
}
