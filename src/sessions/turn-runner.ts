// One turn of a session: the queued message runs in the session's live CLI (woken from its last
// checkpoint when needed), then a checkpoint is taken and the session's usage, cost and context
// recorded. A failed turn still counts what it spent; the sandbox is retired so the next turn
// restores from the last good checkpoint. Called under the session's lock (turn-queue.ts).
import { HangarError } from '../errors/errors.js';
import type { GatewaySessionUsage } from '../gateway/model-gateway.js';
import { costOfUsageByModel } from '../gateway/pricing.js';
import { nameRealUpstream } from '../gateway/upstream-error.js';
import { mapSdkResult } from '../runner/map-sdk-result.js';
import { addUsage, ZERO_USAGE, type QueuedMessage, type SessionRecord, type TaskError } from '../store/store.js';
import type { LiveSessions } from './live-sessions.js';
import type { SessionCheckpoints } from './session-checkpoints.js';
import type { SessionContext } from './session-context.js';

const CONTEXT_WARNING_RATIO = 0.8;

/** The session's usage, usage by model and cost with what a turn spent added. */
function withSpend(context: SessionContext, session: SessionRecord, spent: GatewaySessionUsage): Pick<SessionRecord, 'usage' | 'usageByModel' | 'costUsd'> {
  const usageByModel = { ...session.usageByModel };
  for (const [model, usage] of Object.entries(spent.byModel)) usageByModel[model] = addUsage(usageByModel[model] ?? ZERO_USAGE, usage);
  return { usage: addUsage(session.usage, spent.total), usageByModel, costUsd: costOfUsageByModel(context.config.pricing, usageByModel) };
}

const spentAnything = (spent: GatewaySessionUsage): boolean =>
  spent.total.inputTokens + spent.total.outputTokens + spent.total.cacheCreationInputTokens + spent.total.cacheReadInputTokens > 0;

export function createTurnRunner(
  context: SessionContext,
  liveSessions: LiveSessions,
  checkpoints: SessionCheckpoints,
): (message: QueuedMessage) => Promise<void> {
  const { config, store, gateway, logger } = context;

  return async (message) => {
    let session = await context.requireSession(message.sessionId);
    if (session.status === 'closed') {
      await store.messages.update(message.id, {
        status: 'failed',
        error: { code: 'SESSION_CLOSED', message: 'the session was closed' },
        finishedAt: context.nowIso(),
      });
      return;
    }
    const options = context.optionsOf(session);
    if (options.maxBudgetUsd !== null && session.costUsd >= options.maxBudgetUsd) {
      const error = { code: 'BUDGET_EXCEEDED', message: `the session spent $${session.costUsd.toFixed(6)} of its $${options.maxBudgetUsd} budget` };
      await store.messages.update(message.id, { status: 'failed', error, finishedAt: context.nowIso() });
      await context.publish(session.id, 'turn_failed', { messageId: message.id, error });
      return;
    }
    liveSessions.clearIdleTimer(session.id);
    await store.messages.update(message.id, { status: 'running', startedAt: context.nowIso() });
    context.interruptRequested.delete(session.id);
    context.runningTurns.set(session.id, message.id);
    await context.publish(session.id, 'turn_started', { messageId: message.id, seq: message.seq, prompt: message.prompt, source: message.source });
    const wasHibernated = session.status === 'hibernated';
    session = await context.setStatus(session.id, 'running', { lastActivityAt: context.nowIso() });
    let error: TaskError | null = null;
    let metered: GatewaySessionUsage | undefined;
    let corruptCheckpoint: { error: TaskError; details: unknown } | undefined;
    try {
      const active = await liveSessions.ensureLive(wasHibernated ? { ...session, status: 'hibernated' } : session);
      const outcome = await active.agent!.runTurn(message.prompt);
      const agentSessionId = active.agent!.agentSessionId ?? session.agentSessionId ?? '';
      metered = gateway.drainUsage(session.id);
      const result = outcome.result;
      const failure = mapSdkResult(result);
      if (failure !== null) error = { code: failure.code, message: nameRealUpstream(failure.message, config.gateway.sandboxPort, gateway.upstreamLabel) };
      const checkpoint = await checkpoints.take(session, session.turns + 1, active.sandbox, agentSessionId, checkpoints.projectKeyFor(agentSessionId));
      session = await store.sessions.update(session.id, {
        agentSessionId,
        turns: session.turns + 1,
        lastCheckpointId: checkpoint.id,
        ...withSpend(context, session, metered),
        contextTokens: outcome.contextTokens,
        contextWindow: outcome.contextWindow,
        lastActivityAt: context.nowIso(),
        error: null,
      });
      await checkpoints.keeper
        .applyRetention(session.id)
        .catch((caught: unknown) => logger.error({ err: caught, sessionId: session.id }, 'checkpoint retention failed'));
      if (outcome.contextWindow !== null && outcome.contextTokens > CONTEXT_WARNING_RATIO * outcome.contextWindow) {
        await context.publish(session.id, 'warning', {
          code: 'CONTEXT_WINDOW',
          message: `the context holds ${outcome.contextTokens} tokens, over ${CONTEXT_WARNING_RATIO * 100}% of the ${outcome.contextWindow}-token window`,
          contextTokens: outcome.contextTokens,
          contextWindow: outcome.contextWindow,
        });
      }
      await context.publish(session.id, 'turn_completed', {
        messageId: message.id,
        result: result.subtype === 'success' ? result.result : null,
        error,
        numTurns: result.num_turns,
        usage: metered.total,
        costUsd: session.costUsd,
      });
    } catch (caught) {
      const failure = caught instanceof HangarError ? caught : new HangarError('INTERNAL', (caught as Error).message, { cause: caught });
      logger.error({ err: caught, sessionId: session.id }, 'turn failed');
      error = { code: failure.code, message: failure.message };
      await context.publish(session.id, 'turn_failed', { messageId: message.id, error });
      if (failure.code === 'CHECKPOINT_FAILED') {
        // The workspace goes back to the last good checkpoint, so the conversation continues from that
        // checkpoint's transcript position too (as after a crash).
        await store.sessions.update(session.id, { agentSessionId: null, error });
        await context.publish(session.id, 'checkpoint_failed', {
          messageId: message.id,
          error,
          details: failure.details,
          keptCheckpointId: session.lastCheckpointId,
        });
      }
      // A checkpoint that does not match its manifest is never restored: the session fails, naming it.
      if (failure.code === 'CHECKPOINT_CORRUPT') corruptCheckpoint = { error, details: failure.details };
      // The sandbox may be in any state: the next turn restores from the last checkpoint.
      await liveSessions.retire(session.id);
      // What the turn spent is counted even though it failed (drained now, or before the failure).
      const spent = metered ?? gateway.drainUsage(session.id);
      if (spentAnything(spent)) await store.sessions.update(session.id, withSpend(context, await context.requireSession(session.id), spent));
    } finally {
      context.runningTurns.delete(session.id);
    }
    const interrupted = context.interruptRequested.delete(session.id);
    if (interrupted) error = { code: 'INTERRUPTED', message: 'the turn was interrupted on request' };
    await store.messages.update(message.id, { status: interrupted ? 'interrupted' : error === null ? 'done' : 'failed', error, finishedAt: context.nowIso() });
    const latest = await context.requireSession(session.id);
    if (latest.status === 'closed') return;
    if (corruptCheckpoint !== undefined) {
      await context.setStatus(latest.id, 'failed', { error: corruptCheckpoint.error });
      await context.publish(latest.id, 'checkpoint_corrupt', { messageId: message.id, ...corruptCheckpoint });
      return;
    }
    if (latest.pattern === 'hybrid') {
      await liveSessions.retire(latest.id);
      await context.setStatus(latest.id, 'idle');
      return;
    }
    const updated = await context.setStatus(latest.id, context.live.has(latest.id) ? 'idle' : 'hibernated');
    liveSessions.armIdleTimer(updated);
  };
}
