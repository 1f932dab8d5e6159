// Recovery at start: no sandbox survived the previous process. Turns it cut off are marked
// interrupted (or done, when their checkpoint was recorded and only the message's status was not),
// and their sessions continue from the last checkpoint's transcript position; every open session
// is hibernated; shared sandboxes come back; queues with messages left start draining again.
import type { SessionContext } from './session-context.js';
import type { SharedSandboxes } from './shared-sandboxes.js';

export async function recoverSessions(context: SessionContext, shared: SharedSandboxes, pump: (sessionId: string) => void): Promise<void> {
  const { store } = context;
  // Turns that were running when the previous process died are interrupted; they can be retried.
  const interrupted = await store.messages.interruptRunning({ code: 'INTERRUPTED', message: 'the server stopped during this turn; send it again to retry' });
  for (const message of interrupted) {
    const owner = await store.sessions.get(message.sessionId);
    const checkpoint = owner?.lastCheckpointId ? await store.checkpoints.get(owner.lastCheckpointId) : undefined;
    if (checkpoint !== undefined && message.startedAt !== null && checkpoint.createdAt >= message.startedAt) {
      // The turn finished and its checkpoint was recorded; only the message's own status was not.
      await store.messages.update(message.id, { status: 'done', error: null, finishedAt: checkpoint.createdAt });
      await context.publish(message.sessionId, 'turn_completed', { messageId: message.id, recovered: true });
      continue;
    }
    await context.publish(message.sessionId, 'turn_interrupted', { messageId: message.id, reason: 'server restart' });
    // The cut-off turn may have reached the transcript but not the workspace snapshot: the session
    // continues from its checkpoint's transcript position (see live-sessions.ts ensureLive).
    await store.sessions.update(message.sessionId, { agentSessionId: null });
  }
  for (const session of await store.sessions.listByStatus(['running', 'idle'])) await context.setStatus(session.id, 'hibernated');
  // Shared sandboxes come back under their own id, with the workspace of their newest checkpoint.
  await shared.restoreAll();
  for (const session of await store.sessions.listByStatus(['hibernated', 'idle'])) {
    if ((await store.messages.nextQueued(session.id)) !== undefined) pump(session.id);
  }
}
