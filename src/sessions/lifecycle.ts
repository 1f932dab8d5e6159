// A session's life: create (initial files become checkpoint 0), hibernate (CLI and sandbox go, the
// last checkpoint stays), interrupt (the running turn is asked to stop), fork (a new session from a
// copy of a checkpoint) and close (queue failed, schedules off, checkpoints deleted). Waking is
// live-sessions.ts ensureLive, on the next turn.
import { withoutSecretValues } from '../egress/declared-secrets.js';
import { HangarError } from '../errors/errors.js';
import { newRecordId } from '../ids.js';
import { resolveResources } from './resources.js';
import type { ResourceLimits } from '../config/config.js';
import { assertWorkspaceFiles } from '../runner/workspace-files.js';
import type { Sandbox } from '../sandbox/sandbox-provider.js';
import { DEFAULT_TENANT_ID, newSessionRecord, type SessionRecord } from '../store/store.js';
import type { CheckpointKeeper } from './checkpoint-keeper.js';
import { processesLeftIn } from './left-processes.js';
import type { LiveSessions } from './live-sessions.js';
import type { SessionCheckpoints } from './session-checkpoints.js';
import type { CreateSessionInput, ResolvedSessionOptions, SessionContext, SessionOptionsInput } from './session-context.js';
import type { SharedSandboxes } from './shared-sandboxes.js';
import type { TurnQueue } from './turn-queue.js';

export interface SessionLifecycle {
  create(input: CreateSessionInput): Promise<SessionRecord>;
  close(sessionId: string): Promise<SessionRecord>;
  fork(sessionId: string, options: { checkpointId?: string; metadata?: Record<string, string> }): Promise<SessionRecord>;
  interrupt(sessionId: string): Promise<{ interrupted: boolean }>;
  hibernate(sessionId: string): Promise<SessionRecord>;
}

export interface LifecycleParts {
  queue: TurnQueue;
  liveSessions: LiveSessions;
  checkpoints: SessionCheckpoints;
  keeper: CheckpointKeeper;
  shared: () => SharedSandboxes;
}

export function createSessionLifecycle(context: SessionContext, parts: LifecycleParts): SessionLifecycle {
  const { config, store, gateway, logger, live, sharedSandboxes } = context;
  const { queue, liveSessions, checkpoints, keeper } = parts;

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
    // The record keeps declared secrets without their values (sealed into the store by create).
    ...(input.network !== undefined ? { network: withoutSecretValues(input.network) } : {}),
  });

  /** Initial files become checkpoint 0: every pattern restores its workspace from it. */
  const placeInitialFiles = async (input: CreateSessionInput, session: SessionRecord, files: Array<[string, string]>): Promise<SessionRecord> => {
    let placed: { sandbox: Sandbox; ownsSandbox: boolean } | undefined;
    try {
      placed = await liveSessions.placeSandbox(session);
      for (const [file, content] of files) await placed.sandbox.writeFile(file, content);
      const checkpoint = await checkpoints.take(session, 0, placed.sandbox, '', undefined);
      session = await store.sessions.update(session.id, { lastCheckpointId: checkpoint.id });
    } catch (error) {
      // What validation could not foresee (a full disk, a shared workspace in the way): the session
      // is recorded as failed with the reason, and keeps no sandbox.
      if (placed?.ownsSandbox === true)
        await placed.sandbox.destroy().catch((caught: unknown) => logger.error({ err: caught, sessionId: session.id }, 'sandbox destroy failed'));
      else if (session.sandboxId !== null) sharedSandboxes.get(session.sandboxId)?.members.delete(session.id);
      const failure = error instanceof HangarError ? error : new HangarError('SANDBOX_FAILED', (error as Error).message, { cause: error });
      await context.setStatus(session.id, 'failed', { error: { code: failure.code, message: `writing the initial files failed: ${failure.message}` } });
      throw failure;
    }
    if (input.pattern === 'long-running' && placed.ownsSandbox) {
      live.set(session.id, { sandbox: placed.sandbox, ownsSandbox: true, agent: undefined, idleTimer: undefined });
      // A session that gets no message hibernates like any idle one.
      if (input.prompt === undefined) liveSessions.armIdleTimer(session);
    } else if (placed.ownsSandbox) {
      await placed.sandbox.destroy();
    }
    return session;
  };

  const lifecycle: SessionLifecycle = {
    async create(input) {
      if (input.pattern === 'hybrid' && input.sandboxId !== undefined) {
        throw new HangarError('VALIDATION_FAILED', 'a hybrid session runs each turn in a fresh sandbox and cannot use a shared sandbox');
      }
      const options = resolveOptions(input);
      const tenantId = input.tenantId ?? DEFAULT_TENANT_ID;
      let diskMb = options.resources.diskMb;
      if (input.sandboxId !== undefined) {
        const shared = await parts.shared().requireRecord(input.sandboxId);
        // Another tenant's sandbox is one that does not exist, for this tenant.
        if (shared.tenantId !== tenantId) throw new HangarError('SANDBOX_NOT_FOUND', `sandbox ${input.sandboxId} does not exist`);
        if (shared.status !== 'active' || !sharedSandboxes.has(shared.id)) throw new HangarError('SANDBOX_NOT_FOUND', `sandbox ${input.sandboxId} is closed`);
        diskMb = (shared.resources as unknown as ResourceLimits).diskMb;
      }
      // Checked before anything is created: a refused create leaves no session and no sandbox.
      assertWorkspaceFiles(input.files, { diskMb });
      await context.assertSessionRoom(tenantId);
      if (input.sandboxId === undefined && (input.prompt !== undefined || Object.keys(input.files ?? {}).length > 0))
        context.admission.assertRoom('a new session', await context.tenantShare(tenantId));
      const session = newSessionRecord({
        id: newRecordId('sess'),
        tenantId,
        pattern: input.pattern,
        options: options as unknown as Record<string, unknown>,
        metadata: input.metadata ?? {},
        sandboxId: input.sandboxId ?? null,
        createdAt: context.nowIso(),
      });
      // Declared secret values are sealed into the store before the record that names them.
      await context.egress?.keepSecrets({ kind: 'session', id: session.id }, input.network);
      await store.sessions.insert(session);
      await context.publish(session.id, 'session_created', { pattern: session.pattern, sandboxId: session.sandboxId, metadata: session.metadata });
      const files = Object.entries(input.files ?? {});
      if (files.length > 0) await placeInitialFiles(input, session, files);
      if (input.prompt !== undefined) await queue.send(session.id, input.prompt);
      return context.requireSession(session.id);
    },

    async close(sessionId) {
      await context.requireSession(sessionId);
      const closed = await queue.withSessionLock(sessionId, async () => {
        const session = await context.requireSession(sessionId);
        if (session.status === 'closed') return session;
        await liveSessions.retire(sessionId);
        gateway.forgetSession(sessionId);
        for (const message of await store.messages.list(sessionId, { statuses: ['queued'], limit: 10_000 })) {
          await store.messages.update(message.id, {
            status: 'failed',
            error: { code: 'SESSION_CLOSED', message: 'the session was closed' },
            finishedAt: context.nowIso(),
          });
        }
        for (const schedule of await store.schedules.list(sessionId)) await store.schedules.update(schedule.id, { enabled: false });
        const updated = await context.setStatus(sessionId, 'closed', { lastCheckpointId: null });
        // Its declared secrets go too (a restart deletes those a crash left behind).
        await context.egress
          ?.forgetSecrets({ kind: 'session', id: sessionId })
          .catch((caught: unknown) => logger.error({ err: caught, sessionId }, 'deleting the secrets of a closed session failed'));
        // A closed session is never restored: its checkpoints and their blobs go with it.
        const deleted = await keeper.deleteAll(sessionId).catch((caught: unknown) => {
          logger.error({ err: caught, sessionId }, 'deleting the checkpoints of a closed session failed (the next sweep retries)');
          return 0;
        });
        await context.publish(sessionId, 'closed', { checkpointsDeleted: deleted });
        return updated;
      });
      if (closed.sandboxId !== null) await parts.shared().closeIfEmpty(closed.sandboxId);
      return closed;
    },

    async fork(sessionId, options) {
      const source = await context.requireSession(sessionId);
      if (source.status === 'closed') throw new HangarError('SESSION_CLOSED', `session ${sessionId} is closed: its checkpoints were deleted with it`);
      // The fork runs with the source's options: they must be within the tenant's policy now, and be a session it has room for.
      await context.checkPolicy(source);
      await context.assertSessionRoom(source.tenantId);
      const checkpointId = options.checkpointId ?? source.lastCheckpointId;
      if (checkpointId === null) throw new HangarError('NO_CHECKPOINT', `session ${sessionId} has no checkpoint to fork from yet (it has completed no turn)`);
      const checkpoint = await store.checkpoints.get(checkpointId);
      if (checkpoint === undefined || checkpoint.sessionId !== sessionId)
        throw new HangarError('CHECKPOINT_NOT_FOUND', `checkpoint ${checkpointId} is not a checkpoint of session ${sessionId}`);
      const forkId = newRecordId('sess');
      // The fork gets its own copy of the snapshot: the source's blobs may be deleted with it.
      const copied = await keeper.copy(checkpoint, forkId);
      const fork: SessionRecord = {
        ...newSessionRecord({
          id: forkId,
          tenantId: source.tenantId,
          pattern: source.pattern,
          options: source.options,
          metadata: { ...source.metadata, ...options.metadata },
          sandboxId: null,
          createdAt: context.nowIso(),
        }),
        status: 'hibernated',
        forkedFrom: { sessionId, checkpointId },
        turns: checkpoint.turn,
        contextTokens: source.contextTokens,
        contextWindow: source.contextWindow,
        lastCheckpointId: copied.id,
      };
      await context.egress?.copySecrets({ kind: 'session', id: sessionId }, { kind: 'session', id: forkId });
      await store.sessions.insert(fork);
      await context.publish(forkId, 'session_created', { pattern: fork.pattern, forkedFrom: fork.forkedFrom, metadata: fork.metadata });
      await context.publish(sessionId, 'forked', { forkId, checkpointId });
      return context.requireSession(forkId);
    },

    async interrupt(sessionId) {
      const session = await context.requireSession(sessionId);
      if (session.status === 'closed') throw new HangarError('SESSION_CLOSED', `session ${sessionId} is closed: it has no turn to interrupt`);
      const messageId = context.runningTurns.get(sessionId);
      const agent = live.get(sessionId)?.agent;
      if (messageId === undefined || agent === undefined) return { interrupted: false };
      context.interruptRequested.add(sessionId);
      await agent.interrupt();
      await context.publish(sessionId, 'interrupt_requested', { messageId });
      return { interrupted: true };
    },

    async hibernate(sessionId) {
      await context.requireSession(sessionId);
      return queue.withSessionLock(sessionId, async () => {
        const session = await context.requireSession(sessionId);
        if (session.status === 'closed') throw new HangarError('SESSION_CLOSED', `session ${sessionId} is closed and cannot be hibernated`);
        if (session.status !== 'idle' || !live.has(sessionId) || session.sandboxId !== null) return session;
        if ((await store.messages.nextQueued(sessionId)) !== undefined) return session;
        // Read before the sandbox goes: the processes the agent left running end with it.
        const left = await processesLeftIn(live.get(sessionId)?.sandbox, logger);
        await liveSessions.retire(sessionId);
        const updated = await context.setStatus(sessionId, 'hibernated');
        await context.publish(sessionId, 'hibernated', { checkpointId: session.lastCheckpointId, ...left });
        return updated;
      });
    },
  };
  return lifecycle;
}
