// SessionStore views used when a conversation is resumed from a checkpoint rather than from its
// latest state: a fork reads the source transcript only up to the checkpoint's position.
import type { SessionKey, SessionStore } from '@anthropic-ai/claude-agent-sdk';

/** A SessionStore whose `load` of one session's main transcript stops at `entries`. */
export function transcriptUpTo(base: SessionStore, agentSessionId: string, entries: number): SessionStore {
  const view: SessionStore = {
    append: (key, batch) => base.append(key, batch),
    async load(key: SessionKey) {
      const loaded = await base.load(key);
      if (loaded === null || key.sessionId !== agentSessionId || key.subpath !== undefined) return loaded;
      return loaded.slice(0, entries);
    },
  };
  if (base.listSessions) view.listSessions = base.listSessions.bind(base);
  if (base.listSubkeys) view.listSubkeys = base.listSubkeys.bind(base);
  return view;
}
