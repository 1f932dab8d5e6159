// Sessions with a sandbox in this process: giving one a sandbox and a running CLI (restored from its
// last checkpoint when it had none), retiring it (CLI stopped, its own sandbox destroyed), and the
// idle timer that hibernates a long-running session after idleTimeoutSec without a turn.
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import { HangarError } from '../errors/errors.js';
import type { Sandbox } from '../sandbox/sandbox-provider.js';
import type { SessionRecord } from '../store/store.js';
import { agentSandboxSpec } from './resources.js';
import type { LiveSession, SessionContext } from './session-context.js';
import type { SessionCheckpoints } from './session-checkpoints.js';
import { transcriptUpTo } from './transcript-views.js';

export interface LiveSessions {
  /** A sandbox for the session: its shared sandbox (joined as a member), or a new one of its own. */
  placeSandbox(session: SessionRecord): Promise<{ sandbox: Sandbox; ownsSandbox: boolean }>;
  /** Gives the session a sandbox and a running CLI, restoring from its last checkpoint when it has one. */
  ensureLive(session: SessionRecord): Promise<LiveSession>;
  /** Stops the CLI and, when the session owns it, destroys the sandbox. */
  retire(sessionId: string): Promise<void>;
  /** (Re)starts the idle timer of a live long-running session in its own sandbox. */
  armIdleTimer(session: SessionRecord): void;
  clearIdleTimer(sessionId: string): void;
}

export function createLiveSessions(context: SessionContext, checkpoints: SessionCheckpoints, hibernate: (sessionId: string) => Promise<unknown>): LiveSessions {
  const { config, store, gateway, live, sharedSandboxes, clock, logger } = context;

  const retire = async (sessionId: string): Promise<void> => {
    const current = live.get(sessionId);
    if (current === undefined) return;
    live.delete(sessionId);
    clock.clearTimeout(current.idleTimer);
    gateway.revokeSession(sessionId);
    await context.egress?.revoke(sessionId);
    await current.agent?.close().catch((error: unknown) => logger.warn({ err: error, sessionId }, 'closing the CLI failed'));
    if (current.ownsSandbox) {
      await current.sandbox.destroy().catch((error: unknown) => logger.error({ err: error, sessionId }, 'sandbox destroy failed'));
    } else {
      for (const shared of sharedSandboxes.values()) shared.members.delete(sessionId);
    }
  };

  const placeSandbox = async (session: SessionRecord): Promise<{ sandbox: Sandbox; ownsSandbox: boolean }> => {
    if (session.sandboxId !== null) {
      const shared = sharedSandboxes.get(session.sandboxId);
      if (shared === undefined) throw new HangarError('SANDBOX_NOT_FOUND', `shared sandbox ${session.sandboxId} is not running on this server`);
      shared.members.add(session.id);
      return { sandbox: shared.sandbox, ownsSandbox: false };
    }
    const sandbox = await context.sandboxProvider.create(
      agentSandboxSpec(config, { gateway, claudeExecutable: context.claudeExecutable, egress: context.egress }, context.optionsOf(session).resources),
      await context.tenantShare(session.tenantId),
    );
    return { sandbox, ownsSandbox: true };
  };

  const ensureLive = async (session: SessionRecord): Promise<LiveSession> => {
    const existing = live.get(session.id);
    if (existing?.agent !== undefined && !existing.agent.closed) return existing;
    const started = clock.now();
    const checkpoint = session.lastCheckpointId === null ? undefined : await store.checkpoints.get(session.lastCheckpointId);
    let current = existing;
    const restoring = current === undefined;
    if (current === undefined) {
      const { sandbox, ownsSandbox } = await placeSandbox(session);
      current = { sandbox, ownsSandbox, agent: undefined, idleTimer: undefined };
      live.set(session.id, current);
    }
    const restoreFrom = restoring && checkpoint !== undefined && current.ownsSandbox ? checkpoint : undefined;
    const options = context.optionsOf(session);
    // A session without its own conversation id but with a checkpoint that has one (a fork, or a
    // session whose turn was cut off by a crash) continues from exactly the checkpoint's transcript
    // position under a new conversation id; the transcript beyond that position is left behind.
    const forking = session.agentSessionId === null && checkpoint !== undefined && checkpoint.agentSessionId !== '';
    const resume = session.agentSessionId ?? (forking ? checkpoint?.agentSessionId : undefined);
    const token = gateway.registerSession(session.id, session.tenantId);
    // The budget holds at the gateway too: no model call starts once it is spent, this run or before.
    if (options.maxBudgetUsd !== null) gateway.setBudget(session.id, { limitUsd: options.maxBudgetUsd, spentUsd: session.costUsd });
    const environment =
      context.egress === undefined ? undefined : await context.egress.environmentFor({ kind: 'session', id: session.id }, options.network, session.tenantId);
    const sessionStore =
      forking && checkpoint !== undefined
        ? transcriptUpTo(checkpoints.agentSessionStore, checkpoint.agentSessionId, checkpoint.transcriptEntries)
        : checkpoints.agentSessionStore;
    current.agent = context.launcher.startSession({
      ...(environment !== undefined ? { environment } : {}),
      sandbox: current.sandbox,
      gateway: { token, port: config.gateway.sandboxPort },
      claudeExecutable: context.claudeExecutable,
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
      onMessage: (message: SDKMessage) => void context.publish(session.id, 'sdk', message),
    });
    // The checkpoint is verified and its workspace and HOME unpacked while the CLI boots (started
    // after it, the longer of the two); the turn's prompt is sent only once both are done.
    if (restoreFrom !== undefined) {
      try {
        await checkpoints.keeper.restore(current.sandbox, restoreFrom);
      } catch (error) {
        await retire(session.id);
        throw error;
      }
    }
    if (restoring && checkpoint !== undefined && session.status === 'hibernated') {
      await context.publish(session.id, 'woke', { fromCheckpointId: checkpoint.id, turn: checkpoint.turn, restoreMs: clock.now() - started });
    }
    return current;
  };

  return {
    placeSandbox,
    ensureLive,
    retire,
    armIdleTimer(session) {
      const current = live.get(session.id);
      if (current === undefined || session.pattern !== 'long-running' || session.sandboxId !== null) return;
      clock.clearTimeout(current.idleTimer);
      current.idleTimer = clock.setTimeout(
        () => {
          hibernate(session.id).catch((error: unknown) => {
            // Closed meanwhile: nothing is left to hibernate.
            if (!(error instanceof HangarError && error.code === 'SESSION_CLOSED')) logger.error({ err: error, sessionId: session.id }, 'hibernation failed');
          });
        },
        context.optionsOf(session).idleTimeoutSec * 1000,
      );
    },
    clearIdleTimer(sessionId) {
      const current = live.get(sessionId);
      if (current !== undefined) clock.clearTimeout(current.idleTimer);
    },
  };
}
