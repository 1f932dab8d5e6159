// SessionStore views: a store with some methods replaced, and the one used when a conversation
// is resumed from a checkpoint rather than its latest state (the transcript read up to its position).
import type { SessionKey, SessionStore } from '@anthropic-ai/claude-agent-sdk';

/** A SessionStore that behaves like `base` except for the methods given. */
export function overrideSessionStore(base: SessionStore, overrides: Partial<Pick<SessionStore, 'append' | 'load'>>): SessionStore {
  const view: SessionStore = {
    append: overrides.append ?? ((key, batch) => base.append(key, batch)),
    load: overrides.load ?? ((key) => base.load(key)),
  };
  if (base.listSessions) view.listSessions = base.listSessions.bind(base);
  if (base.listSubkeys) view.listSubkeys = base.listSubkeys.bind(base);
  if (base.delete) view.delete = base.delete.bind(base);
  return view;
}

/** A SessionStore whose `load` of one session's main transcript stops at `entries`. */
export function transcriptUpTo(base: SessionStore, agentSessionId: string, entries: number): SessionStore {
  return overrideSessionStore(base, {
    async load(key: SessionKey) {
      const loaded = await base.load(key);
      if (loaded === null || key.sessionId !== agentSessionId || key.subpath !== undefined) return loaded;
      return loaded.slice(0, entries);
    },
  });
}
