// Sessions: the long-running and hybrid patterns, and sessions sharing one sandbox.
// A session's prompts are queued durably and run one turn at a time, in order. After every turn a
// checkpoint is taken (workspace snapshot + transcript position); hibernation, wake, hybrid turns,
// crash recovery and fork all restore from a checkpoint. Every SDK message and lifecycle event is
// published to the session's durable event stream.
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { SDKMessage, SessionStore } from '@anthropic-ai/claude-agent-sdk';
import type { Logger } from 'pino';
import type { HangarConfig, ResourceLimits } from '../config/config.js';
import { HangarError } from '../errors/errors.js';
import type { GatewaySessionUsage, ModelGateway } from '../gateway/model-gateway.js';
import { costOfUsageByModel } from '../gateway/pricing.js';
import { nameRealUpstream } from '../gateway/upstream-error.js';
import type { AgentOptions, AgentPermissionMode } from '../runner/agent-options.js';
import { startAgentSession, type AgentSession } from '../runner/agent-session.js';
import type { Sandbox, SandboxProvider } from '../sandbox/sandbox-provider.js';
import type { BlobStore } from '../store/blob-store.js';
import {
  addUsage,
  ZERO_USAGE,
  type CheckpointRecord,
  type QueuedMessage,
  type ScheduleRecord,
  type SessionListQuery,
  type SessionRecord,
  type SharedSandboxRecord,
  type Store,
  type TokenUsage,
} from '../store/store.js';
import type { EventHub } from './event-hub.js';
import { nextRunAfter, parseInterval, validateCron } from './schedule-timing.js';
import { agentSandboxSpec, resolveResources } from './resources.js';
import { assertWorkspaceFiles } from '../runner/workspace-files.js';
import { overrideSessionStore, transcriptUpTo } from './transcript-views.js';
import { createAdmission, type Admission } from './admission.js';
import { createCheckpointKeeper } from './checkpoint-keeper.js';
import { snapshotLimits, type SnapshotLimits } from './workspace-snapshots.js';
import { processesLeftIn } from './left-processes.js';

/** A session's agent options (runner/agent-options.ts) and its own. */
export interface SessionOptionsInput extends Omit<AgentOptions, 'files'> {
  /** Seconds without a turn before a long-running session hibernates. */
  idleTimeoutSec?: number;
}

export interface CreateSessionInput extends SessionOptionsInput, Pick<AgentOptions, 'files'> {
  pattern: 'long-running' | 'hybrid';
  prompt?: string;
  metadata?: Record<string, string>;
  /** Run inside this shared sandbox (pattern 4). */
  sandboxId?: string;
}

export interface SessionManagerDependencies {
  config: HangarConfig;
  store: Store;
  blobs: BlobStore;
  sandboxProvider: SandboxProvider;
  gateway: ModelGateway;
  agentSessionStore: SessionStore;
  events: EventHub;
  claudeExecutable: string;
  logger: Logger;
  /** Counts live sandboxes against sandbox.maxLive (none: no ceiling). */
  admission?: Admission;
}

/** Options a session runs with, after defaults. */
interface ResolvedSessionOptions {
  allowedTools: string[];
  /** Absent in sessions recorded before the option existed. */
  disallowedTools?: string[];
  maxTurns: number;
  maxBudgetUsd: number | null;
  permissionMode: AgentPermissionMode;
  appendSystemPrompt: string | null;
  model: string | null;
  resources: ResourceLimits;
  idleTimeoutSec: number;
}

/** What this process holds for a session that has a sandbox right now. */
interface LiveSession {
  sandbox: Sandbox;
  /** False when the sandbox is shared and outlives the session. */
  ownsSandbox: boolean;
  agent: AgentSession | undefined;
  idleTimer: NodeJS.Timeout | undefined;
}

interface LiveSharedSandbox {
  record: SharedSandboxRecord;
  sandbox: Sandbox;
  members: Set<string>;
}

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
  createSharedSandbox(input: { resources?: Partial<ResourceLimits> }): Promise<SharedSandboxRecord & { sessions: string[] }>;
  getSharedSandbox(id: string): Promise<SharedSandboxRecord & { sessions: string[] }>;
  /** Shared sandboxes, oldest first, optionally only those in the given status. */
  listSharedSandboxes(status?: SharedSandboxRecord['status']): Promise<Array<SharedSandboxRecord & { sessions: string[] }>>;
  closeSharedSandbox(id: string): Promise<SharedSandboxRecord>;
  /** True when the session will emit no more events (closed or failed, nothing queued or running). */
  isQuiescent(sessionId: string): Promise<boolean>;
  /** Recovers state after a restart and starts the scheduler. */
  start(): Promise<void>;
  /** Stops turns, checkpoints nothing new, destroys live sandboxes (sessions stay resumable). */
  shutdown(): Promise<void>;
  readonly liveCount: number;
}

const CONTEXT_WARNING_RATIO = 0.8;
const SCHEDULER_INTERVAL_MS = 500;

function usageTotal(usage: TokenUsage): number {
  return usage.inputTokens + usage.outputTokens + usage.cacheCreationInputTokens + usage.cacheReadInputTokens;
}

export function createSessionManager(dependencies: SessionManagerDependencies): SessionManager {
  const { config, store, blobs, gateway, events, claudeExecutable, logger } = dependencies;
  const admission = dependencies.admission ?? createAdmission({ maxLive: Number.POSITIVE_INFINITY });
  // Every sandbox the sessions hold counts against the ceiling until it is destroyed.
  const sandboxProvider = admission.guardProvider(dependencies.sandboxProvider);
  const checkpoints = createCheckpointKeeper({
    store,
    blobs,
    retention: config.sessions.checkpointRetention,
    logger,
    homeExcludes: config.sessions.checkpointHomeExcludes,
    restoreTimeoutMs: config.sessions.snapshotTimeoutMs,
  });
  const live = new Map<string, LiveSession>();
  const sharedSandboxes = new Map<string, LiveSharedSandbox>();
  /** Per-session serial chain: turns, hibernation and close never overlap. */
  const chains = new Map<string, Promise<unknown>>();
  /** Sessions whose queue is being drained right now. */
  const pumping = new Set<string>();
  /** Session id -> the message id of the turn running now. */
  const runningTurns = new Map<string, string>();
  /** Sessions whose running turn a client asked to stop. */
  const interruptRequested = new Set<string>();
  let schedulerTimer: NodeJS.Timeout | undefined;
  let stopping = false;

  const withSessionLock = <T>(sessionId: string, work: () => Promise<T>): Promise<T> => {
    const previous = chains.get(sessionId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    chains.set(sessionId, next);
    void next.finally(() => {
      if (chains.get(sessionId) === next) chains.delete(sessionId);
    }).catch(() => undefined);
    return next;
  };

  const publish = (sessionId: string, type: string, data: unknown): Promise<unknown> =>
    events.publish(sessionId, [{ type, data }]).catch((error: unknown) => logger.error({ err: error, sessionId }, 'event publish failed'));


  const resolveOptions = (input: SessionOptionsInput): ResolvedSessionOptions => ({
    allowedTools: input.allowedTools ?? config.agent.defaultAllowedTools,
    ...(input.disallowedTools !== undefined && input.disallowedTools.length > 0 ? { disallowedTools: input.disallowedTools } : {}),
    maxTurns: input.maxTurns ?? config.agent.defaultMaxTurns,
    maxBudgetUsd: input.maxBudgetUsd ?? null,
    permissionMode: input.permissionMode ?? 'dontAsk',
    appendSystemPrompt: input.appendSystemPrompt ?? null,
    model: input.model ?? config.agent.model ?? null,
    resources: resolveResources(config, input.resources),
    idleTimeoutSec: input.idleTimeoutSec ?? config.sessions.defaultIdleTimeoutSec,
  });

  const optionsOf = (session: SessionRecord): ResolvedSessionOptions => session.options as unknown as ResolvedSessionOptions;

  const requireSession = async (sessionId: string): Promise<SessionRecord> => {
    const session = await store.sessions.get(sessionId);
    if (session === undefined) throw new HangarError('SESSION_NOT_FOUND', `session ${sessionId} does not exist`);
    return session;
  };

  const setStatus = async (sessionId: string, status: SessionRecord['status'], extra: Partial<SessionRecord> = {}): Promise<SessionRecord> => {
    const updated = await store.sessions.update(sessionId, { ...extra, status });
    await publish(sessionId, 'status', { status });
    return updated;
  };

  /** Snapshot limits of the sandbox a session runs in, from its disk limit (a shared sandbox's own). */
  const limitsFor = (session: SessionRecord): SnapshotLimits => {
    const shared = session.sandboxId === null ? undefined : sharedSandboxes.get(session.sandboxId);
    const diskMb = shared === undefined ? optionsOf(session).resources.diskMb : (shared.record.resources as unknown as ResourceLimits).diskMb;
    return snapshotLimits(config.sessions, diskMb);
  };

  /**
   * Takes a checkpoint at a turn boundary and records it. The caller then points the session at it
   * (together with the turn count), so a crash in between leaves the previous consistent state.
   */
  const takeCheckpoint = async (session: SessionRecord, turn: number, sandbox: Sandbox, agentSessionId: string, transcriptProjectKey: string | undefined): Promise<CheckpointRecord> => {
    const checkpoint = await checkpoints.take({ sessionId: session.id, turn, sandbox, limits: limitsFor(session), agentSessionId, transcriptProjectKey });
    const { id: checkpointId, sizeBytes, transcriptEntries } = checkpoint;
    await publish(session.id, 'checkpoint', { checkpointId, turn, sizeBytes, transcriptEntries });
    return checkpoint;
  };

  /** Where the SDK mirrored this agent session's transcript (the project key is derived from the cwd). */
  const projectKeys = new Map<string, string>();
  const agentSessionStore = overrideSessionStore(dependencies.agentSessionStore, {
    append: async (key, entries) => {
      if (key.subpath === undefined) projectKeys.set(key.sessionId, key.projectKey);
      await dependencies.agentSessionStore.append(key, entries);
    },
  });
  /** The project key every sandbox's cwd maps to, learned from the first mirrored write. */
  const projectKeyFor = (agentSessionId: string): string | undefined => projectKeys.get(agentSessionId) ?? [...projectKeys.values()][0];

  const createSandboxFor = async (session: SessionRecord): Promise<{ sandbox: Sandbox; ownsSandbox: boolean }> => {
    if (session.sandboxId !== null) {
      const shared = sharedSandboxes.get(session.sandboxId);
      if (shared === undefined) throw new HangarError('SANDBOX_NOT_FOUND', `shared sandbox ${session.sandboxId} is not running on this server`);
      shared.members.add(session.id);
      return { sandbox: shared.sandbox, ownsSandbox: false };
    }
    const sandbox = await sandboxProvider.create(agentSandboxSpec(config, { gateway, claudeExecutable }, optionsOf(session).resources));
    return { sandbox, ownsSandbox: true };
  };

  /** Gives the session a sandbox and a running CLI, restoring from its last checkpoint when it has one. */
  const ensureLive = async (session: SessionRecord): Promise<LiveSession> => {
    const existing = live.get(session.id);
    if (existing?.agent !== undefined && !existing.agent.closed) return existing;
    const started = Date.now();
    const checkpoint = session.lastCheckpointId === null ? undefined : await store.checkpoints.get(session.lastCheckpointId);
    let current = existing;
    const restoring = current === undefined;
    // The checkpoint is verified and its workspace and HOME unpacked while the CLI boots; the turn's
    // prompt is sent only once both are done.
    let workspaceRestored: Promise<void> = Promise.resolve();
    if (current === undefined) {
      const { sandbox, ownsSandbox } = await createSandboxFor(session);
      current = { sandbox, ownsSandbox, agent: undefined, idleTimer: undefined };
      live.set(session.id, current);
    }
    const restoreFrom = restoring && checkpoint !== undefined && current.ownsSandbox ? checkpoint : undefined;
    const options = optionsOf(session);
    // A session without its own conversation id but with a checkpoint that has one (a fork, or a
    // session whose turn was cut off by a crash) continues from exactly the checkpoint's transcript
    // position under a new conversation id; the transcript beyond that position is left behind.
    const forking = session.agentSessionId === null && checkpoint !== undefined && checkpoint.agentSessionId !== '';
    const resume = session.agentSessionId ?? (forking ? checkpoint?.agentSessionId : undefined);
    const token = gateway.registerSession(session.id);
    const sessionStore = forking && checkpoint !== undefined ? transcriptUpTo(agentSessionStore, checkpoint.agentSessionId, checkpoint.transcriptEntries) : agentSessionStore;
    current.agent = startAgentSession({
      sandbox: current.sandbox,
      gateway: { token, port: config.gateway.sandboxPort },
      claudeExecutable,
      maxTurns: options.maxTurns,
      allowedTools: options.allowedTools,
      ...(options.disallowedTools !== undefined ? { disallowedTools: options.disallowedTools } : {}),
      permissionMode: options.permissionMode,
      ...(options.appendSystemPrompt !== null ? { appendSystemPrompt: options.appendSystemPrompt } : {}),
      ...(options.model !== null ? { model: options.model } : {}),
      ...(options.maxBudgetUsd !== null ? { maxBudgetUsd: options.maxBudgetUsd } : {}),
      maxRetries: config.agent.maxRetries,
      sessionStore,
      ...(resume !== undefined ? { resume } : {}),
      ...(forking ? { forkSession: true } : {}),
      // The event hub stores a session's events in call order, so these need no awaiting here.
      onMessage: (message: SDKMessage) => void publish(session.id, 'sdk', message),
    });
    // Started after the CLI, whose boot is the longer of the two.
    if (restoreFrom !== undefined) workspaceRestored = checkpoints.restore(current.sandbox, restoreFrom);
    try {
      await workspaceRestored;
    } catch (error) {
      await retire(session.id);
      throw error;
    }
    if (restoring && checkpoint !== undefined && session.status === 'hibernated') {
      await publish(session.id, 'woke', { fromCheckpointId: checkpoint.id, turn: checkpoint.turn, restoreMs: Date.now() - started });
    }
    return current;
  };

  /** Stops the CLI and, when the session owns it, destroys the sandbox. */
  const retire = async (sessionId: string): Promise<void> => {
    const current = live.get(sessionId);
    if (current === undefined) return;
    live.delete(sessionId);
    if (current.idleTimer) clearTimeout(current.idleTimer);
    gateway.revokeSession(sessionId);
    await current.agent?.close().catch((error: unknown) => logger.warn({ err: error, sessionId }, 'closing the CLI failed'));
    if (current.ownsSandbox) {
      await current.sandbox.destroy().catch((error: unknown) => logger.error({ err: error, sessionId }, 'sandbox destroy failed'));
    } else {
      for (const shared of sharedSandboxes.values()) shared.members.delete(sessionId);
    }
  };

  const armIdleTimer = (session: SessionRecord): void => {
    const current = live.get(session.id);
    if (current === undefined || session.pattern !== 'long-running' || session.sandboxId !== null) return;
    if (current.idleTimer) clearTimeout(current.idleTimer);
    const timeoutMs = optionsOf(session).idleTimeoutSec * 1000;
    current.idleTimer = setTimeout(() => {
      manager.hibernate(session.id).catch((error: unknown) => {
        // Closed meanwhile: nothing is left to hibernate.
        if (!(error instanceof HangarError && error.code === 'SESSION_CLOSED')) logger.error({ err: error, sessionId: session.id }, 'hibernation failed');
      });
    }, timeoutMs);
    current.idleTimer.unref();
  };

  /** Runs one queued message as a turn. Called under the session lock. */
  const runTurn = async (message: QueuedMessage): Promise<void> => {
    let session = await requireSession(message.sessionId);
    if (session.status === 'closed') {
      await store.messages.update(message.id, { status: 'failed', error: { code: 'SESSION_CLOSED', message: 'the session was closed' }, finishedAt: new Date().toISOString() });
      return;
    }
    const options = optionsOf(session);
    if (options.maxBudgetUsd !== null && session.costUsd >= options.maxBudgetUsd) {
      const error = { code: 'BUDGET_EXCEEDED', message: `the session spent $${session.costUsd.toFixed(6)} of its $${options.maxBudgetUsd} budget` };
      await store.messages.update(message.id, { status: 'failed', error, finishedAt: new Date().toISOString() });
      await publish(session.id, 'turn_failed', { messageId: message.id, error });
      return;
    }
    const current = live.get(session.id);
    if (current?.idleTimer) clearTimeout(current.idleTimer);
    await store.messages.update(message.id, { status: 'running', startedAt: new Date().toISOString() });
    interruptRequested.delete(session.id);
    runningTurns.set(session.id, message.id);
    await publish(session.id, 'turn_started', { messageId: message.id, seq: message.seq, prompt: message.prompt, source: message.source });
    const wasHibernated = session.status === 'hibernated';
    session = await setStatus(session.id, 'running', { lastActivityAt: new Date().toISOString() });
    let error: { code: string; message: string } | null = null;
    let metered: GatewaySessionUsage | undefined;
    let corruptCheckpoint: { error: { code: string; message: string }; details: unknown } | undefined;
    try {
      const active = await ensureLive(wasHibernated ? { ...session, status: 'hibernated' } : session);
      const outcome = await active.agent!.runTurn(message.prompt);
      const agentSessionId = active.agent!.agentSessionId ?? session.agentSessionId ?? '';
      metered = gateway.drainUsage(session.id);
      const usageByModel = { ...session.usageByModel };
      for (const [model, usage] of Object.entries(metered.byModel)) usageByModel[model] = addUsage(usageByModel[model] ?? ZERO_USAGE, usage);
      const result = outcome.result;
      if (result.subtype !== 'success' || result.is_error) {
        const detail = 'errors' in result && result.errors.length > 0 ? `: ${result.errors.join('; ')}` : result.subtype === 'success' ? `: ${result.result}` : '';
        error = { code: result.subtype === 'error_max_turns' ? 'MAX_TURNS' : result.subtype === 'error_max_budget_usd' ? 'BUDGET_EXCEEDED' : 'AGENT_FAILED', message: nameRealUpstream(`${result.subtype.replaceAll('_', ' ')}${detail}`, config.gateway.sandboxPort, gateway.upstreamLabel) };
      }
      const checkpoint = await takeCheckpoint(session, session.turns + 1, active.sandbox, agentSessionId, projectKeyFor(agentSessionId));
      session = await store.sessions.update(session.id, {
        agentSessionId,
        turns: session.turns + 1,
        lastCheckpointId: checkpoint.id,
        usage: addUsage(session.usage, metered.total),
        usageByModel,
        costUsd: costOfUsageByModel(config.pricing, usageByModel),
        contextTokens: outcome.contextTokens,
        contextWindow: outcome.contextWindow,
        lastActivityAt: new Date().toISOString(),
        error: null,
      });
      await checkpoints.applyRetention(session.id).catch((caught: unknown) => logger.error({ err: caught, sessionId: session.id }, 'checkpoint retention failed'));
      if (outcome.contextWindow !== null && outcome.contextTokens > CONTEXT_WARNING_RATIO * outcome.contextWindow) {
        await publish(session.id, 'warning', {
          code: 'CONTEXT_WINDOW',
          message: `the context holds ${outcome.contextTokens} tokens, over ${CONTEXT_WARNING_RATIO * 100}% of the ${outcome.contextWindow}-token window`,
          contextTokens: outcome.contextTokens,
          contextWindow: outcome.contextWindow,
        });
      }
      await publish(session.id, 'turn_completed', {
        messageId: message.id,
        result: result.subtype === 'success' ? result.result : null,
        error,
        numTurns: result.num_turns,
        usage: metered.total,
        costUsd: (await requireSession(session.id)).costUsd,
      });
    } catch (caught) {
      const failure = caught instanceof HangarError ? caught : new HangarError('INTERNAL', (caught as Error).message, { cause: caught });
      logger.error({ err: caught, sessionId: session.id }, 'turn failed');
      error = { code: failure.code, message: failure.message };
      await publish(session.id, 'turn_failed', { messageId: message.id, error });
      if (failure.code === 'CHECKPOINT_FAILED') {
        // The workspace goes back to the last good checkpoint, so the conversation continues from that
        // checkpoint's transcript position too (as after a crash).
        await store.sessions.update(session.id, { agentSessionId: null, error });
        await publish(session.id, 'checkpoint_failed', { messageId: message.id, error, details: failure.details, keptCheckpointId: session.lastCheckpointId });
      }
      // A checkpoint that does not match its manifest is never restored: the session fails, naming it.
      if (failure.code === 'CHECKPOINT_CORRUPT') corruptCheckpoint = { error, details: failure.details };
      // The sandbox may be in any state: the next turn restores from the last checkpoint.
      await retire(session.id);
      // What the turn spent is counted even though it failed (drained now, or before the failure).
      const spent = metered ?? gateway.drainUsage(session.id);
      if (usageTotal(spent.total) > 0) {
        const current = await requireSession(session.id);
        const usageByModel = { ...current.usageByModel };
        for (const [model, usage] of Object.entries(spent.byModel)) usageByModel[model] = addUsage(usageByModel[model] ?? ZERO_USAGE, usage);
        await store.sessions.update(session.id, { usage: addUsage(current.usage, spent.total), usageByModel, costUsd: costOfUsageByModel(config.pricing, usageByModel) });
      }
    } finally {
      runningTurns.delete(session.id);
    }
    const interrupted = interruptRequested.delete(session.id);
    if (interrupted) error = { code: 'INTERRUPTED', message: 'the turn was interrupted on request' };
    await store.messages.update(message.id, { status: interrupted ? 'interrupted' : error === null ? 'done' : 'failed', error, finishedAt: new Date().toISOString() });
    const latest = await requireSession(session.id);
    if (latest.status === 'closed') return;
    if (corruptCheckpoint !== undefined) {
      await setStatus(latest.id, 'failed', { error: corruptCheckpoint.error });
      await publish(latest.id, 'checkpoint_corrupt', { messageId: message.id, ...corruptCheckpoint });
      return;
    }
    if (latest.pattern === 'hybrid') {
      await retire(latest.id);
      await setStatus(latest.id, 'idle');
      return;
    }
    const stillLive = live.get(latest.id);
    const updated = await setStatus(latest.id, stillLive === undefined ? 'hibernated' : 'idle');
    armIdleTimer(updated);
  };

  /** Drains a session's queue, one turn at a time. */
  const pump = (sessionId: string): void => {
    if (pumping.has(sessionId) || stopping) return;
    pumping.add(sessionId);
    const drain = async (): Promise<void> => {
      try {
        for (;;) {
          if (stopping) return;
          const next = await store.messages.nextQueued(sessionId);
          if (next === undefined) return;
          await withSessionLock(sessionId, () => runTurn(next));
        }
      } finally {
        pumping.delete(sessionId);
      }
    };
    drain().catch((error: unknown) => logger.error({ err: error, sessionId }, 'session queue stopped'));
  };

  const sharedView = async (record: SharedSandboxRecord): Promise<SharedSandboxRecord & { sessions: string[] }> => {
    const members = await store.sessions.list({ sandboxId: record.id, limit: 10_000 });
    return { ...record, sessions: members.filter((session) => session.status !== 'closed').map((session) => session.id) };
  };

  const closeSharedIfEmpty = async (sandboxId: string): Promise<void> => {
    const view = await sharedView(await requireSharedRecord(sandboxId));
    if (view.sessions.length === 0 && view.status === 'active') await manager.closeSharedSandbox(sandboxId);
  };

  const requireSharedRecord = async (id: string): Promise<SharedSandboxRecord> => {
    const record = await store.sharedSandboxes.get(id);
    if (record === undefined) throw new HangarError('SANDBOX_NOT_FOUND', `sandbox ${id} does not exist`);
    return record;
  };

  /** Recreates a shared sandbox after a restart from the newest checkpoint of its sessions. */
  const restoreSharedSandbox = async (record: SharedSandboxRecord): Promise<void> => {
    const members = (await store.sessions.list({ sandboxId: record.id, limit: 10_000 })).filter((session) => session.status !== 'closed');
    let newest: CheckpointRecord | undefined;
    for (const member of members) {
      const checkpoint = member.lastCheckpointId === null ? undefined : await store.checkpoints.get(member.lastCheckpointId);
      if (checkpoint !== undefined && (newest === undefined || checkpoint.createdAt > newest.createdAt)) newest = checkpoint;
    }
    let sandbox: Sandbox | undefined;
    try {
      sandbox = await sandboxProvider.create(agentSandboxSpec(config, { gateway, claudeExecutable }, record.resources as unknown as ResourceLimits, record.id));
      if (newest !== undefined) await checkpoints.restore(sandbox, newest);
      sharedSandboxes.set(record.id, { record, sandbox, members: new Set() });
      for (const member of members) await publish(member.id, 'sandbox_restored', { sandboxId: record.id, fromCheckpointId: newest?.id ?? null });
    } catch (error) {
      logger.error({ err: error, sandboxId: record.id }, 'shared sandbox could not be restored');
      await sandbox?.destroy().catch(() => undefined);
      await store.sharedSandboxes.update(record.id, { status: 'closed', closedAt: new Date().toISOString() });
      for (const member of members) {
        // A checkpoint that fails its manifest keeps its own code (it names the checkpoint).
        const code = error instanceof HangarError && error.code === 'CHECKPOINT_CORRUPT' ? error.code : 'SANDBOX_FAILED';
        await store.sessions.update(member.id, { status: 'failed', error: { code, message: `shared sandbox ${record.id} could not be restored: ${(error as Error).message}` } });
      }
    }
  };

  const runSchedules = async (): Promise<void> => {
    const now = new Date();
    const due = await store.schedules.due(now.toISOString(), 50);
    for (const schedule of due) {
      const session = await store.sessions.get(schedule.sessionId);
      const nextRunAt = nextRunAfter(schedule, now).toISOString();
      if (session === undefined || session.status === 'closed' || session.status === 'failed') {
        await store.schedules.update(schedule.id, { enabled: false });
        continue;
      }
      // Never overlap: a run of this schedule still queued or running means this one is skipped.
      const open = await store.messages.list(schedule.sessionId, { statuses: ['queued', 'running'], limit: 100 });
      if (open.some((message) => message.source === `schedule:${schedule.id}`)) {
        await store.schedules.update(schedule.id, { nextRunAt });
        await publish(schedule.sessionId, 'schedule_skipped', { scheduleId: schedule.id, reason: 'the previous run has not finished' });
        continue;
      }
      await store.schedules.update(schedule.id, { nextRunAt, lastRunAt: now.toISOString() });
      await manager.send(schedule.sessionId, schedule.prompt, `schedule:${schedule.id}`).catch(async (error: unknown) => {
        if (!(error instanceof HangarError && (error.code === 'CAPACITY_EXCEEDED' || error.code === 'BUDGET_EXCEEDED'))) throw error;
        await publish(schedule.sessionId, 'schedule_skipped', { scheduleId: schedule.id, reason: error.message });
      });
    }
  };

  const manager: SessionManager = {
    async create(input) {
      if (input.pattern === 'hybrid' && input.sandboxId !== undefined) {
        throw new HangarError('VALIDATION_FAILED', 'a hybrid session runs each turn in a fresh sandbox and cannot use a shared sandbox');
      }
      const options = resolveOptions(input);
      let diskMb = options.resources.diskMb;
      if (input.sandboxId !== undefined) {
        const shared = await requireSharedRecord(input.sandboxId);
        if (shared.status !== 'active' || !sharedSandboxes.has(shared.id)) throw new HangarError('SANDBOX_NOT_FOUND', `sandbox ${input.sandboxId} is closed`);
        diskMb = (shared.resources as unknown as ResourceLimits).diskMb;
      }
      // Checked before anything is created: a refused create leaves no session and no sandbox.
      assertWorkspaceFiles(input.files, { diskMb });
      if (input.sandboxId === undefined && (input.prompt !== undefined || Object.keys(input.files ?? {}).length > 0)) admission.assertRoom('a new session');
      const now = new Date().toISOString();
      let session: SessionRecord = {
        id: `sess_${randomUUID().replaceAll('-', '')}`,
        pattern: input.pattern,
        status: 'idle',
        options: options as unknown as Record<string, unknown>,
        metadata: input.metadata ?? {},
        sandboxId: input.sandboxId ?? null,
        agentSessionId: null,
        forkedFrom: null,
        turns: 0,
        usage: { ...ZERO_USAGE },
        usageByModel: {},
        costUsd: 0,
        contextTokens: 0,
        contextWindow: null,
        lastCheckpointId: null,
        error: null,
        createdAt: now,
        updatedAt: now,
        lastActivityAt: now,
      };
      await store.sessions.insert(session);
      await publish(session.id, 'session_created', { pattern: session.pattern, sandboxId: session.sandboxId, metadata: session.metadata });
      const files = Object.entries(input.files ?? {});
      if (files.length > 0) {
        // Initial files become checkpoint 0: every pattern restores its workspace from it.
        let placed: { sandbox: Sandbox; ownsSandbox: boolean } | undefined;
        try {
          placed = await createSandboxFor(session);
          for (const [file, content] of files) await placed.sandbox.writeFile(file, content);
          const checkpoint = await takeCheckpoint(session, 0, placed.sandbox, '', undefined);
          session = await store.sessions.update(session.id, { lastCheckpointId: checkpoint.id });
        } catch (error) {
          // What validation could not foresee (a full disk, a shared workspace in the way): the session
          // is recorded as failed with the reason, and keeps no sandbox.
          if (placed?.ownsSandbox === true) await placed.sandbox.destroy().catch((caught: unknown) => logger.error({ err: caught, sessionId: session.id }, 'sandbox destroy failed'));
          else if (session.sandboxId !== null) sharedSandboxes.get(session.sandboxId)?.members.delete(session.id);
          const failure = error instanceof HangarError ? error : new HangarError('SANDBOX_FAILED', (error as Error).message, { cause: error });
          await setStatus(session.id, 'failed', { error: { code: failure.code, message: `writing the initial files failed: ${failure.message}` } });
          throw failure;
        }
        if (input.pattern === 'long-running' && placed.ownsSandbox) {
          live.set(session.id, { sandbox: placed.sandbox, ownsSandbox: true, agent: undefined, idleTimer: undefined });
          // A session that gets no message hibernates like any idle one.
          if (input.prompt === undefined) armIdleTimer(session);
        } else if (placed.ownsSandbox) {
          await placed.sandbox.destroy();
        }
      }
      if (input.prompt !== undefined) await manager.send(session.id, input.prompt);
      return requireSession(session.id);
    },

    async send(sessionId, prompt, source = 'api') {
      const session = await requireSession(sessionId);
      if (session.status === 'closed') throw new HangarError('SESSION_CLOSED', `session ${sessionId} is closed and takes no more messages`);
      const { maxBudgetUsd } = optionsOf(session);
      if (maxBudgetUsd !== null && session.costUsd >= maxBudgetUsd) {
        throw new HangarError('BUDGET_EXCEEDED', `session ${sessionId} spent $${session.costUsd.toFixed(6)} of its $${maxBudgetUsd} budget and takes no more messages`, {
          details: { costUsd: session.costUsd, maxBudgetUsd },
        });
      }
      // A session without a live sandbox (hibernated, hybrid) needs a new one for this message.
      if (!live.has(sessionId) && session.sandboxId === null) admission.assertRoom(`session ${sessionId}`);
      const message = await store.messages.enqueue({ id: `msg_${randomUUID().replaceAll('-', '')}`, sessionId, prompt, source, createdAt: new Date().toISOString() });
      await publish(sessionId, 'message_queued', { messageId: message.id, seq: message.seq, source });
      pump(sessionId);
      return message;
    },

    get: requireSession,

    list: (query) => store.sessions.list(query),

    async close(sessionId) {
      await requireSession(sessionId);
      const closed = await withSessionLock(sessionId, async () => {
        const session = await requireSession(sessionId);
        if (session.status === 'closed') return session;
        await retire(sessionId);
        gateway.forgetSession(sessionId);
        for (const message of await store.messages.list(sessionId, { statuses: ['queued'], limit: 10_000 })) {
          await store.messages.update(message.id, { status: 'failed', error: { code: 'SESSION_CLOSED', message: 'the session was closed' }, finishedAt: new Date().toISOString() });
        }
        for (const schedule of await store.schedules.list(sessionId)) await store.schedules.update(schedule.id, { enabled: false });
        const updated = await setStatus(sessionId, 'closed', { lastCheckpointId: null });
        // A closed session is never restored: its checkpoints and their blobs go with it.
        const deleted = await checkpoints.deleteAll(sessionId).catch((caught: unknown) => {
          logger.error({ err: caught, sessionId }, 'deleting the checkpoints of a closed session failed (the next sweep retries)');
          return 0;
        });
        await publish(sessionId, 'closed', { checkpointsDeleted: deleted });
        return updated;
      });
      if (closed.sandboxId !== null) await closeSharedIfEmpty(closed.sandboxId);
      return closed;
    },

    async fork(sessionId, options) {
      const source = await requireSession(sessionId);
      if (source.status === 'closed') throw new HangarError('SESSION_CLOSED', `session ${sessionId} is closed: its checkpoints were deleted with it`);
      const checkpointId = options.checkpointId ?? source.lastCheckpointId;
      if (checkpointId === null) throw new HangarError('NO_CHECKPOINT', `session ${sessionId} has no checkpoint to fork from yet (it has completed no turn)`);
      const checkpoint = await store.checkpoints.get(checkpointId);
      if (checkpoint === undefined || checkpoint.sessionId !== sessionId) throw new HangarError('CHECKPOINT_NOT_FOUND', `checkpoint ${checkpointId} is not a checkpoint of session ${sessionId}`);
      const now = new Date().toISOString();
      const forkId = `sess_${randomUUID().replaceAll('-', '')}`;
      // The fork gets its own copy of the snapshot: the source's blobs may be deleted with it.
      const copied = await checkpoints.copy(checkpoint, forkId);
      const fork: SessionRecord = {
        ...source,
        id: forkId,
        status: 'hibernated',
        sandboxId: null,
        metadata: { ...source.metadata, ...options.metadata },
        agentSessionId: null,
        forkedFrom: { sessionId, checkpointId },
        turns: checkpoint.turn,
        usage: { ...ZERO_USAGE },
        usageByModel: {},
        costUsd: 0,
        lastCheckpointId: copied.id,
        error: null,
        createdAt: now,
        updatedAt: now,
        lastActivityAt: now,
      };
      await store.sessions.insert(fork);
      await publish(forkId, 'session_created', { pattern: fork.pattern, forkedFrom: fork.forkedFrom, metadata: fork.metadata });
      await publish(sessionId, 'forked', { forkId, checkpointId });
      return requireSession(forkId);
    },

    async interrupt(sessionId) {
      const session = await requireSession(sessionId);
      if (session.status === 'closed') throw new HangarError('SESSION_CLOSED', `session ${sessionId} is closed: it has no turn to interrupt`);
      const messageId = runningTurns.get(sessionId);
      const agent = live.get(sessionId)?.agent;
      if (messageId === undefined || agent === undefined) return { interrupted: false };
      interruptRequested.add(sessionId);
      await agent.interrupt();
      await publish(sessionId, 'interrupt_requested', { messageId });
      return { interrupted: true };
    },

    async hibernate(sessionId) {
      await requireSession(sessionId);
      return withSessionLock(sessionId, async () => {
        const session = await requireSession(sessionId);
        if (session.status === 'closed') throw new HangarError('SESSION_CLOSED', `session ${sessionId} is closed and cannot be hibernated`);
        if (session.status !== 'idle' || !live.has(sessionId) || session.sandboxId !== null) return session;
        if ((await store.messages.nextQueued(sessionId)) !== undefined) return session;
        // Read before the sandbox goes: the processes the agent left running end with it.
        const left = await processesLeftIn(live.get(sessionId)?.sandbox, logger);
        await retire(sessionId);
        const updated = await setStatus(sessionId, 'hibernated');
        await publish(sessionId, 'hibernated', { checkpointId: session.lastCheckpointId, ...left });
        return updated;
      });
    },

    async messages(sessionId, limit) {
      await requireSession(sessionId);
      return store.messages.list(sessionId, { limit });
    },

    async checkpoints(sessionId, limit) {
      await requireSession(sessionId);
      return store.checkpoints.list(sessionId, limit);
    },

    checkpoint: (checkpointId) => store.checkpoints.get(checkpointId),

    async addSchedule(sessionId, input) {
      const session = await requireSession(sessionId);
      if (session.status === 'closed') throw new HangarError('SESSION_CLOSED', `session ${sessionId} is closed`);
      if ((input.every === undefined) === (input.cron === undefined)) throw new HangarError('VALIDATION_FAILED', 'give exactly one of every or cron');
      if (input.every !== undefined) parseInterval(input.every);
      if (input.cron !== undefined) validateCron(input.cron);
      const now = new Date();
      const schedule: ScheduleRecord = {
        id: `sched_${randomUUID().replaceAll('-', '')}`,
        sessionId,
        every: input.every ?? null,
        cron: input.cron ?? null,
        prompt: input.prompt,
        enabled: true,
        nextRunAt: nextRunAfter({ every: input.every ?? null, cron: input.cron ?? null }, now).toISOString(),
        lastRunAt: null,
        createdAt: now.toISOString(),
      };
      await store.schedules.insert(schedule);
      await publish(sessionId, 'schedule_added', { scheduleId: schedule.id, every: schedule.every, cron: schedule.cron });
      return schedule;
    },

    async schedules(sessionId) {
      await requireSession(sessionId);
      return store.schedules.list(sessionId);
    },

    async removeSchedule(sessionId, scheduleId) {
      const schedule = await store.schedules.get(scheduleId);
      if (schedule === undefined || schedule.sessionId !== sessionId) throw new HangarError('SCHEDULE_NOT_FOUND', `schedule ${scheduleId} does not exist on session ${sessionId}`);
      await store.schedules.delete(scheduleId);
    },

    async listSharedSandboxes(status) {
      return Promise.all((await store.sharedSandboxes.list(status)).map(sharedView));
    },

    async createSharedSandbox(input) {
      const resources = resolveResources(config, input.resources);
      const id = `sbx_${randomUUID().replaceAll('-', '')}`;
      const sandbox = await sandboxProvider.create(agentSandboxSpec(config, { gateway, claudeExecutable }, resources, id));
      const record: SharedSandboxRecord = { id, status: 'active', resources: resources as unknown as Record<string, unknown>, createdAt: new Date().toISOString(), closedAt: null };
      await store.sharedSandboxes.insert(record);
      sharedSandboxes.set(id, { record, sandbox, members: new Set() });
      return { ...record, sessions: [] };
    },

    async getSharedSandbox(id) {
      return sharedView(await requireSharedRecord(id));
    },

    async closeSharedSandbox(id) {
      const record = await requireSharedRecord(id);
      if (record.status === 'closed') return record;
      const view = await sharedView(record);
      const updated = await store.sharedSandboxes.update(id, { status: 'closed', closedAt: new Date().toISOString() });
      for (const sessionId of view.sessions) await manager.close(sessionId);
      const shared = sharedSandboxes.get(id);
      sharedSandboxes.delete(id);
      await shared?.sandbox.destroy();
      return updated;
    },

    async isQuiescent(sessionId) {
      const session = await store.sessions.get(sessionId);
      if (session === undefined) return true;
      if (session.status !== 'closed' && session.status !== 'failed') return false;
      return !runningTurns.has(sessionId) && !pumping.has(sessionId);
    },

    async start() {
      // Turns that were running when the previous process died are interrupted; they can be retried.
      const interrupted = await store.messages.interruptRunning({ code: 'INTERRUPTED', message: 'the server stopped during this turn; send it again to retry' });
      for (const message of interrupted) {
        const owner = await store.sessions.get(message.sessionId);
        const checkpoint = owner?.lastCheckpointId ? await store.checkpoints.get(owner.lastCheckpointId) : undefined;
        if (checkpoint !== undefined && message.startedAt !== null && checkpoint.createdAt >= message.startedAt) {
          // The turn finished and its checkpoint was recorded; only the message's own status was not.
          await store.messages.update(message.id, { status: 'done', error: null, finishedAt: checkpoint.createdAt });
          await publish(message.sessionId, 'turn_completed', { messageId: message.id, recovered: true });
          continue;
        }
        await publish(message.sessionId, 'turn_interrupted', { messageId: message.id, reason: 'server restart' });
        // The cut-off turn may have reached the transcript but not the workspace snapshot: the
        // session continues from its checkpoint's transcript position (see ensureLive).
        await store.sessions.update(message.sessionId, { agentSessionId: null });
      }
      // No sandbox survived the restart: every open session continues from its last checkpoint.
      for (const session of await store.sessions.listByStatus(['running', 'idle'])) {
        await setStatus(session.id, 'hibernated');
      }
      // Shared sandboxes come back under their own id, with the workspace of their newest checkpoint.
      for (const record of await store.sharedSandboxes.list('active')) await restoreSharedSandbox(record);
      for (const session of await store.sessions.listByStatus(['hibernated', 'idle'])) {
        if ((await store.messages.nextQueued(session.id)) !== undefined) pump(session.id);
      }
      schedulerTimer = setInterval(() => {
        runSchedules().catch((error: unknown) => logger.error({ err: error }, 'scheduler failed'));
      }, SCHEDULER_INTERVAL_MS);
      schedulerTimer.unref();
      // Checkpoints past retention, of closed sessions, and blobs without a record: now, then periodically.
      await checkpoints.sweep().catch((error: unknown) => logger.error({ err: error }, 'checkpoint sweep failed'));
      checkpoints.startSweeping(config.sessions.blobSweepIntervalSec * 1000);
    },

    async shutdown() {
      stopping = true;
      if (schedulerTimer) clearInterval(schedulerTimer);
      await checkpoints.stopSweeping();
      const interrupted = [...runningTurns.keys()];
      for (const [sessionId, current] of live) {
        if (runningTurns.has(sessionId)) await current.agent?.interrupt().catch(() => undefined);
      }
      if (interrupted.length > 0) logger.warn({ sessions: interrupted, drainMs: config.server.shutdownDrainMs }, 'shutdown: waiting for interrupted turns to end');
      // Bounded: a turn still running at the deadline (a CLI that ignores the interrupt, a slow
      // checkpoint) is cut when its CLI and sandbox are closed below.
      const drained = await Promise.race([
        Promise.allSettled([...chains.values()]).then(() => true),
        delay(config.server.shutdownDrainMs, false, { ref: false }),
      ]);
      if (!drained) logger.warn({ sessions: [...runningTurns.keys()] }, 'shutdown: turns still running after server.shutdownDrainMs are cut');
      for (const sessionId of [...live.keys()]) {
        await retire(sessionId);
        const session = await store.sessions.get(sessionId);
        if (session !== undefined && (session.status === 'idle' || session.status === 'running')) await setStatus(sessionId, 'hibernated');
      }
      for (const shared of sharedSandboxes.values()) await shared.sandbox.destroy().catch(() => undefined);
      sharedSandboxes.clear();
    },

    get liveCount() {
      return live.size;
    },
  };
  return manager;
}
