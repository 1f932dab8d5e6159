// A session's prompts are queued durably (the store's message queue) and run one turn at a time, in
// order. Each session has a serial chain: turns, hibernation and close never overlap. send() checks
// the session can take a message (open, within budget, room for a sandbox when it needs one).
import { HangarError } from '../errors/errors.js';
import { newRecordId } from '../ids.js';
import type { QueuedMessage } from '../store/store.js';
import type { SessionContext } from './session-context.js';

export interface TurnQueue {
  /** Runs work after everything chained for the session before it. */
  withSessionLock<T>(sessionId: string, work: () => Promise<T>): Promise<T>;
  /** Queues a prompt and starts draining the queue; BUDGET_EXCEEDED, SESSION_CLOSED or CAPACITY_EXCEEDED refuse it. */
  send(sessionId: string, prompt: string, source?: string): Promise<QueuedMessage>;
  /** Drains the session's queue, one turn at a time, unless it is being drained already. */
  pump(sessionId: string): void;
  /** True while the session's queue is being drained. */
  isPumping(sessionId: string): boolean;
  /** Settles once everything chained now has run. */
  settled(): Promise<unknown>;
  /** No turn starts after this. */
  stop(): void;
}

export function createTurnQueue(context: SessionContext, runTurn: (message: QueuedMessage) => Promise<void>): TurnQueue {
  const { store, logger } = context;
  /** Per-session serial chain. */
  const chains = new Map<string, Promise<unknown>>();
  /** Sessions whose queue is being drained right now. */
  const pumping = new Set<string>();
  let stopping = false;

  const withSessionLock = <T>(sessionId: string, work: () => Promise<T>): Promise<T> => {
    const previous = chains.get(sessionId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    chains.set(sessionId, next);
    void next
      .finally(() => {
        if (chains.get(sessionId) === next) chains.delete(sessionId);
      })
      .catch(() => undefined);
    return next;
  };

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

  return {
    withSessionLock,
    pump,
    async send(sessionId, prompt, source = 'api') {
      const session = await context.requireSession(sessionId);
      if (session.status === 'closed') throw new HangarError('SESSION_CLOSED', `session ${sessionId} is closed and takes no more messages`);
      // A policy tightened since the session was made holds its next message (403).
      await context.checkPolicy(session);
      const { maxBudgetUsd } = context.optionsOf(session);
      if (maxBudgetUsd !== null && session.costUsd >= maxBudgetUsd) {
        throw new HangarError(
          'BUDGET_EXCEEDED',
          `session ${sessionId} spent $${session.costUsd.toFixed(6)} of its $${maxBudgetUsd} budget and takes no more messages`,
          {
            details: { costUsd: session.costUsd, maxBudgetUsd },
          },
        );
      }
      // A session without a live sandbox (hibernated, hybrid) needs a new one for this message.
      if (!context.live.has(sessionId) && session.sandboxId === null)
        context.admission.assertRoom(`session ${sessionId}`, await context.tenantShare(session.tenantId));
      const message = await store.messages.enqueue({ id: newRecordId('msg'), sessionId, prompt, source, createdAt: context.nowIso() });
      await context.publish(sessionId, 'message_queued', { messageId: message.id, seq: message.seq, source });
      pump(sessionId);
      return message;
    },
    isPumping: (sessionId) => pumping.has(sessionId),
    settled: () => Promise.allSettled([...chains.values()]),
    stop() {
      stopping = true;
    },
  };
}
