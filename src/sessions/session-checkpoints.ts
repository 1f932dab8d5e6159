// Checkpoints as the session manager takes them: at a turn boundary, with the snapshot limits of
// the sandbox the session runs in, announced on its event stream. Also learns where the SDK mirrors
// each conversation's transcript (its project key), which a checkpoint records.
import type { SessionStore } from '@anthropic-ai/claude-agent-sdk';
import type { ResourceLimits } from '../config/config.js';
import type { Sandbox } from '../sandbox/sandbox-provider.js';
import type { CheckpointRecord, SessionRecord } from '../store/store.js';
import type { CheckpointKeeper } from './checkpoint-keeper.js';
import type { SessionContext } from './session-context.js';
import { overrideSessionStore } from './transcript-views.js';
import { snapshotLimits, type SnapshotLimits } from './workspace-snapshots.js';

export interface SessionCheckpoints {
  readonly keeper: CheckpointKeeper;
  /**
   * Takes a checkpoint at a turn boundary and records it. The caller then points the session at it
   * (together with the turn count), so a crash in between leaves the previous consistent state.
   */
  take(session: SessionRecord, turn: number, sandbox: Sandbox, agentSessionId: string, transcriptProjectKey: string | undefined): Promise<CheckpointRecord>;
  /** The SessionStore the agents write their transcripts to (it learns their project keys). */
  readonly agentSessionStore: SessionStore;
  /** The project key the conversation's transcript is mirrored under, once known. */
  projectKeyFor(agentSessionId: string): string | undefined;
}

export function createSessionCheckpoints(context: SessionContext, keeper: CheckpointKeeper, agentSessionStore: SessionStore): SessionCheckpoints {
  /** Snapshot limits of the sandbox a session runs in, from its disk limit (a shared sandbox's own). */
  const limitsFor = (session: SessionRecord): SnapshotLimits => {
    const shared = session.sandboxId === null ? undefined : context.sharedSandboxes.get(session.sandboxId);
    const diskMb = shared === undefined ? context.optionsOf(session).resources.diskMb : (shared.record.resources as unknown as ResourceLimits).diskMb;
    return snapshotLimits(context.config.sessions, diskMb);
  };

  /** Where the SDK mirrored each agent session's transcript (the project key is derived from the cwd). */
  const projectKeys = new Map<string, string>();

  return {
    keeper,
    async take(session, turn, sandbox, agentSessionId, transcriptProjectKey) {
      const checkpoint = await keeper.take({ sessionId: session.id, turn, sandbox, limits: limitsFor(session), agentSessionId, transcriptProjectKey });
      const { id: checkpointId, sizeBytes, transcriptEntries } = checkpoint;
      await context.publish(session.id, 'checkpoint', { checkpointId, turn, sizeBytes, transcriptEntries });
      return checkpoint;
    },
    agentSessionStore: overrideSessionStore(agentSessionStore, {
      append: async (key, entries) => {
        if (key.subpath === undefined) projectKeys.set(key.sessionId, key.projectKey);
        await agentSessionStore.append(key, entries);
      },
    }),
    // Every sandbox's cwd maps to the same project key: the first one learned serves a new conversation.
    projectKeyFor: (agentSessionId) => projectKeys.get(agentSessionId) ?? [...projectKeys.values()][0],
  };
}
