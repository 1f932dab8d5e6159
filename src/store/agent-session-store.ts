// The Agent SDK's SessionStore (transcript mirroring and resume) on top of the Store port's
// TranscriptRepository: the SDK's SessionKey is the repository's TranscriptKey.
import type { SessionKey, SessionStore } from '@anthropic-ai/claude-agent-sdk';
import type { TranscriptKey, TranscriptRepository } from './store.js';

/** The repository key of an SDK key; an empty subpath means the main transcript. */
function toTranscriptKey(key: SessionKey): TranscriptKey {
  return key.subpath === undefined || key.subpath === ''
    ? { projectKey: key.projectKey, sessionId: key.sessionId }
    : { projectKey: key.projectKey, sessionId: key.sessionId, subpath: key.subpath };
}

/**
 * A SessionStore that keeps transcripts in the repository: uuid-idempotent appends, loads deep-equal
 * to what was appended, null for keys never written, and deletion of a main transcript with its
 * subagent transcripts. Session summaries are not kept (the SDK falls back to listSessions + load).
 */
export function createAgentSessionStore(transcripts: TranscriptRepository): SessionStore {
  return {
    append: (key, entries) => transcripts.append(toTranscriptKey(key), entries),
    load: (key) => transcripts.load(toTranscriptKey(key)),
    listSessions: (projectKey) => transcripts.listSessions(projectKey),
    delete: (key) => transcripts.delete(toTranscriptKey(key)),
    listSubkeys: (key) => transcripts.listSubkeys({ projectKey: key.projectKey, sessionId: key.sessionId }),
  };
}
