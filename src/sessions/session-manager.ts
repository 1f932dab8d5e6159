// Sessions: the long-running and hybrid patterns, and sessions sharing one sandbox.
// A session's prompts are queued durably and run one turn at a time, in order. After every turn a
// checkpoint is taken (workspace snapshot + transcript position); hibernation, wake, hybrid turns,
// crash recovery and fork all restore from a checkpoint. Every SDK message and lifecycle event is
// published to the session's durable event stream.
// The parts, one file each: session-context (shared state and record helpers), turn-queue (send,
// order, one turn at a time), turn-runner (one turn), live-sessions (sandbox + CLI, idle timer),
// session-checkpoints, lifecycle (create, hibernate, interrupt, fork, close), shared-sandboxes,
// scheduler, recovery (at start). Time comes from the injected Clock, agents from the AgentLauncher.
import type { ResourceLimits } from '../config/config.js';
import type { CheckpointRecord, QueuedMessage, ScheduleRecord, SessionListQuery, SessionRecord, SharedSandboxRecord } from '../store/store.js';
import { createAdmission } from './admission.js';
import { createCheckpointKeeper } from './checkpoint-keeper.js';
import { createSessionLifecycle } from './lifecycle.js';
import { createLiveSessions } from './live-sessions.js';
import { recoverSessions } from './recovery.js';
import { createScheduler } from './scheduler.js';
import { createSessionCheckpoints } from './session-checkpoints.js';
import { createSessionContext, type CreateSessionInput, type SessionManagerDependencies } from './session-context.js';
import { createSharedSandboxes, type SharedSandboxes } from './shared-sandboxes.js';
import { createTurnQueue } from './turn-queue.js';
import { createTurnRunner } from './turn-runner.js';

export type { CreateSessionInput, SessionGateway, SessionManagerDependencies, SessionOptionsInput } from './session-context.js';

export interface SessionManager {
  create(input: CreateSessionInput): Promise<SessionRecord>;
  send(sessionId: string, prompt: string, source?: string): Promise<QueuedMessage>;
  get(sessionId: string): Promise<SessionRecord>;
  list(query: SessionListQuery): Promise<SessionRecord[]>;
  close(sessionId: string): Promise<SessionRecord>;
  fork(sessionId: string, options: { checkpointId?: string; metadata?: Record<string, string> }): Promise<SessionRecord>;
  interrupt(sessionId: string): Promise<{ interrupted: boolean }>;
  /** Hibernates now if the session is idle (what the idle timer does). */
  hibernate(sessionId: string): Promise<SessionRecord>;
  messages(sessionId: string, limit: number): Promise<QueuedMessage[]>;
  checkpoints(sessionId: string, limit: number): Promise<CheckpointRecord[]>;
  /** One checkpoint by id, if it exists. */
  checkpoint(checkpointId: string): Promise<CheckpointRecord | undefined>;
  addSchedule(sessionId: string, input: { every?: string; cron?: string; prompt: string }): Promise<ScheduleRecord>;
  schedules(sessionId: string): Promise<ScheduleRecord[]>;
  removeSchedule(sessionId: string, scheduleId: string): Promise<void>;
  createSharedSandbox(input: { resources?: Partial<ResourceLimits>; tenantId?: string }): Promise<SharedSandboxRecord & { sessions: string[] }>;
  getSharedSandbox(id: string): Promise<SharedSandboxRecord & { sessions: string[] }>;
  /** Shared sandboxes, oldest first, optionally only those in the given status and of the given tenant. */
  listSharedSandboxes(query?: { status?: SharedSandboxRecord['status']; tenantId?: string }): Promise<Array<SharedSandboxRecord & { sessions: string[] }>>;
  closeSharedSandbox(id: string): Promise<SharedSandboxRecord>;
  /** True when the session will emit no more events (closed or failed, nothing queued or running). */
  isQuiescent(sessionId: string): Promise<boolean>;
  /** Recovers state after a restart and starts the scheduler. */
  start(): Promise<void>;
  /** Stops turns, checkpoints nothing new, destroys live sandboxes (sessions stay resumable). */
  shutdown(): Promise<void>;
  readonly liveCount: number;
}

export function createSessionManager(dependencies: SessionManagerDependencies): SessionManager {
  const { config, store, logger } = dependencies;
  const context = createSessionContext(dependencies, dependencies.admission ?? createAdmission({ maxLive: Number.POSITIVE_INFINITY }));
  const { live, runningTurns, clock } = context;
  const keeper = createCheckpointKeeper({
    store,
    blobs: dependencies.blobs,
    retention: config.sessions.checkpointRetention,
    logger,
    homeExcludes: config.sessions.checkpointHomeExcludes,
    restoreTimeoutMs: config.sessions.snapshotTimeoutMs,
    clock,
    ...(dependencies.archiver !== undefined ? { archiver: dependencies.archiver } : {}),
  });
  const checkpoints = createSessionCheckpoints(context, keeper, dependencies.agentSessionStore);
  const liveSessions = createLiveSessions(context, checkpoints, (sessionId) => lifecycle.hibernate(sessionId));
  const queue = createTurnQueue(context, createTurnRunner(context, liveSessions, checkpoints));
  const shared: SharedSandboxes = createSharedSandboxes(context, keeper, (sessionId) => lifecycle.close(sessionId));
  const lifecycle = createSessionLifecycle(context, { queue, liveSessions, checkpoints, keeper, shared: () => shared });
  const scheduler = createScheduler(context, queue.send);

  return {
    create: lifecycle.create,
    send: queue.send,
    get: context.requireSession,
    list: (query) => store.sessions.list(query),
    close: lifecycle.close,
    fork: lifecycle.fork,
    interrupt: lifecycle.interrupt,
    hibernate: lifecycle.hibernate,
    async messages(sessionId, limit) {
      await context.requireSession(sessionId);
      return store.messages.list(sessionId, { limit });
    },
    async checkpoints(sessionId, limit) {
      await context.requireSession(sessionId);
      return store.checkpoints.list(sessionId, limit);
    },
    checkpoint: (checkpointId) => store.checkpoints.get(checkpointId),
    addSchedule: scheduler.add,
    schedules: scheduler.list,
    removeSchedule: scheduler.remove,
    createSharedSandbox: shared.create,
    getSharedSandbox: shared.get,
    listSharedSandboxes: shared.list,
    closeSharedSandbox: shared.close,

    async isQuiescent(sessionId) {
      const session = await store.sessions.get(sessionId);
      if (session === undefined) return true;
      if (session.status !== 'closed' && session.status !== 'failed') return false;
      return !runningTurns.has(sessionId) && !queue.isPumping(sessionId);
    },

    async start() {
      await recoverSessions(context, shared, queue.pump);
      scheduler.start();
      // Checkpoints past retention, of closed sessions, and blobs without a record: now, then periodically.
      await keeper.sweep().catch((error: unknown) => logger.error({ err: error }, 'checkpoint sweep failed'));
      keeper.startSweeping(config.sessions.blobSweepIntervalSec * 1000);
    },

    async shutdown() {
      queue.stop();
      scheduler.stop();
      await keeper.stopSweeping();
      const interrupted = [...runningTurns.keys()];
      for (const [sessionId, current] of live) {
        if (runningTurns.has(sessionId)) await current.agent?.interrupt().catch(() => undefined);
      }
      if (interrupted.length > 0)
        logger.warn({ sessions: interrupted, drainMs: config.server.shutdownDrainMs }, 'shutdown: waiting for interrupted turns to end');
      // Bounded: a turn still running at the deadline (a CLI that ignores the interrupt, a slow
      // checkpoint) is cut when its CLI and sandbox are closed below.
      const drained = await Promise.race([queue.settled().then(() => true), clock.sleep(config.server.shutdownDrainMs).then(() => false)]);
      if (!drained) logger.warn({ sessions: [...runningTurns.keys()] }, 'shutdown: turns still running after server.shutdownDrainMs are cut');
      for (const sessionId of [...live.keys()]) {
        await liveSessions.retire(sessionId);
        const session = await store.sessions.get(sessionId);
        if (session !== undefined && (session.status === 'idle' || session.status === 'running')) await context.setStatus(sessionId, 'hibernated');
      }
      await shared.destroyAll();
    },

    get liveCount() {
      return live.size;
    },
  };
}
