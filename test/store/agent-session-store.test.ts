// The SDK SessionStore over each Store adapter's transcripts: the SessionStore contract directly, then
// the SDK's own session functions (import, read, list, rename, fork, delete) run against it and
// against the SDK's reference InMemorySessionStore, with the same results expected.
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SessionStore, SessionStoreEntry } from '@anthropic-ai/claude-agent-sdk';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAgentSessionStore } from '../../src/store/agent-session-store.js';
import { createInMemoryStore } from '../../src/store/in-memory/index.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import type { Store } from '../../src/store/store.js';

const root = mkdtempSync(path.join(tmpdir(), 'hangar-agent-store-'));
// The SDK's session functions find local transcripts under CLAUDE_CONFIG_DIR/projects.
const configDir = path.join(root, 'claude');
process.env.CLAUDE_CONFIG_DIR = configDir;
const sdk = await import('@anthropic-ai/claude-agent-sdk');
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
const adapters: Array<[string, () => Promise<Store>]> = [
  ['in-memory', async () => createInMemoryStore()],
  [
    'sqlite',
    async () => {
      counter += 1;
      return createSqliteStore({ filePath: path.join(root, `store-${counter}.db`) });
    },
  ],
];

/** Transcript lines shaped like the Claude Code CLI's: queue operations and markers without uuid, a uuid chain of user/assistant turns. */
function transcriptOf(sessionId: string, cwd: string, turns: number): SessionStoreEntry[] {
  const base = { isSidechain: false, userType: 'external', entrypoint: 'sdk-ts', cwd, sessionId, version: '2.1.331' };
  const entries: SessionStoreEntry[] = [];
  let parent: string | null = null;
  for (let turn = 0; turn < turns; turn += 1) {
    const at = (ms: number): string => new Date(Date.UTC(2026, 0, 1, 0, turn, 0, ms)).toISOString();
    const userUuid = randomUUID();
    const toolUuid = randomUUID();
    const resultUuid = randomUUID();
    const assistantUuid = randomUUID();
    entries.push(
      { type: 'queue-operation', operation: 'enqueue', timestamp: at(0), sessionId, content: `prompt ${turn}` },
      { ...base, parentUuid: parent, type: 'user', message: { role: 'user', content: `prompt ${turn} — ✓ 日本` }, uuid: userUuid, timestamp: at(1) },
      {
        ...base,
        parentUuid: userUuid,
        type: 'assistant',
        message: {
          id: `msg_${turn}a`,
          type: 'message',
          role: 'assistant',
          model: 'claude-test',
          content: [{ type: 'tool_use', id: `toolu_${turn}`, name: 'Bash', input: { command: 'echo hi', description: null } }],
          stop_reason: 'tool_use',
          usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0 },
        },
        requestId: `req_${turn}`,
        uuid: toolUuid,
        timestamp: at(2),
      },
      {
        ...base,
        parentUuid: toolUuid,
        type: 'user',
        message: { role: 'user', content: [{ tool_use_id: `toolu_${turn}`, type: 'tool_result', content: 'hi', is_error: false }] },
        toolUseResult: { stdout: 'hi\n', stderr: '', interrupted: false },
        uuid: resultUuid,
        timestamp: at(3),
      },
      {
        ...base,
        parentUuid: resultUuid,
        type: 'assistant',
        message: {
          id: `msg_${turn}b`,
          type: 'message',
          role: 'assistant',
          model: 'claude-test',
          content: [{ type: 'text', text: `turn ${turn} done` }],
          stop_reason: 'end_turn',
        },
        uuid: assistantUuid,
        timestamp: at(4),
      },
      { type: 'last-prompt', lastPrompt: `prompt ${turn}`, leafUuid: assistantUuid, sessionId },
    );
    parent = assistantUuid;
  }
  return entries;
}

/** Writes a session (and one subagent transcript) where the CLI would keep it for `cwd`; returns the session id. */
function writeLocalSession(cwd: string, turns: number): { sessionId: string; main: SessionStoreEntry[]; subagent: SessionStoreEntry[] } {
  const sessionId = randomUUID();
  const projectDir = path.join(configDir, 'projects', cwd.replace(/[^a-zA-Z0-9]/g, '-'));
  mkdirSync(path.join(projectDir, sessionId, 'subagents'), { recursive: true });
  const main = transcriptOf(sessionId, cwd, turns);
  const subagent = transcriptOf(sessionId, cwd, 1).map((entry) => ({ ...entry, isSidechain: true, agentId: 'a1b2' }));
  const jsonl = (entries: SessionStoreEntry[]): string => entries.map((entry) => JSON.stringify(entry)).join('\n') + '\n';
  writeFileSync(path.join(projectDir, `${sessionId}.jsonl`), jsonl(main));
  writeFileSync(path.join(projectDir, sessionId, 'subagents', 'agent-a1b2.jsonl'), jsonl(subagent));
  return { sessionId, main, subagent };
}

describe.each(adapters)('agent SessionStore over the %s store', (_name, openStore) => {
  let store: Store;
  let sessionStore: SessionStore;
  beforeEach(async () => {
    store = await openStore();
    sessionStore = createAgentSessionStore(store.transcripts);
  });
  afterEach(async () => {
    await store.close();
  });

  const key = { projectKey: '-work-project', sessionId: 'b7c1f3f0-0000-4000-8000-000000000001' };

  it('loads entries deep-equal to those appended, across batches, and null for a key never written', async () => {
    expect(await sessionStore.load(key)).toBeNull();
    const entries = transcriptOf(key.sessionId, '/work/project', 3);
    await sessionStore.append(key, entries.slice(0, 5));
    await sessionStore.append(key, entries.slice(5));
    const loaded = await sessionStore.load(key);
    expect(loaded).toEqual(entries);
    // What the SDK requires: JSON round-tripping is the invariant.
    expect(JSON.parse(JSON.stringify(loaded))).toEqual(JSON.parse(JSON.stringify(entries)));
    expect(await sessionStore.load({ ...key, sessionId: 'other' })).toBeNull();
  });

  it('treats uuid as an idempotency key and appends entries without one every time', async () => {
    const entries = transcriptOf(key.sessionId, '/work/project', 2);
    await sessionStore.append(key, entries);
    await sessionStore.append(key, entries);
    const loaded = (await sessionStore.load(key)) ?? [];
    const withUuid = entries.filter((entry) => entry.uuid !== undefined);
    const withoutUuid = entries.filter((entry) => entry.uuid === undefined);
    expect(loaded).toHaveLength(withUuid.length + 2 * withoutUuid.length);
    expect(new Set(loaded.flatMap((entry) => (entry.uuid === undefined ? [] : [entry.uuid]))).size).toBe(withUuid.length);
    expect(loaded.slice(0, entries.length)).toEqual(entries);
    expect(loaded.slice(entries.length)).toEqual(withoutUuid);
  });

  it('lists sessions with integer epoch-ms mtimes, lists subkeys, and deletes a main transcript with its subagents', async () => {
    const before = Date.now();
    const sub = { ...key, subpath: 'subagents/agent-a1b2' };
    await sessionStore.append(key, transcriptOf(key.sessionId, '/work/project', 1));
    await sessionStore.append(sub, transcriptOf(key.sessionId, '/work/project', 1));
    await sessionStore.append({ ...key, sessionId: 'second' }, [{ type: 'custom-title', customTitle: 'x', sessionId: 'second' }]);
    const listed = (await sessionStore.listSessions?.(key.projectKey)) ?? [];
    expect(listed.map((session) => session.sessionId).sort()).toEqual([key.sessionId, 'second']);
    for (const session of listed) {
      expect(Number.isInteger(session.mtime)).toBe(true);
      expect(session.mtime).toBeGreaterThanOrEqual(before);
      expect(session.mtime).toBeLessThanOrEqual(Date.now());
    }
    expect(await sessionStore.listSubkeys?.(key)).toEqual(['subagents/agent-a1b2']);
    expect(sessionStore.listSessionSummaries).toBeUndefined();

    await sessionStore.delete?.(key);
    expect(await sessionStore.load(key)).toBeNull();
    expect(await sessionStore.load(sub)).toBeNull();
    expect(await sessionStore.listSubkeys?.(key)).toEqual([]);
    expect((await sessionStore.listSessions?.(key.projectKey))?.map((session) => session.sessionId)).toEqual(['second']);
  });

  it('treats an empty subpath as the main transcript', async () => {
    await sessionStore.append({ ...key, subpath: '' }, [{ type: 'custom-title', customTitle: 'main' }]);
    expect(await sessionStore.load(key)).toEqual([{ type: 'custom-title', customTitle: 'main' }]);
    expect(await sessionStore.listSubkeys?.(key)).toEqual([]);
  });

  describe("with the SDK's session functions, matching its reference InMemorySessionStore", () => {
    let cwd: string;
    beforeAll(() => {
      cwd = mkdtempSync(path.join(root, 'ws-'));
    });

    it('imports (twice, idempotently), reads, lists, renames, forks and deletes a session', async () => {
      const reference = new sdk.InMemorySessionStore();
      const local = writeLocalSession(cwd, 3);
      const { sessionId } = local;

      await sdk.importSessionToStore(sessionId, sessionStore, { dir: cwd, batchSize: 4 });
      await sdk.importSessionToStore(sessionId, sessionStore, { dir: cwd, batchSize: 7 });
      await sdk.importSessionToStore(sessionId, reference, { dir: cwd, batchSize: 4 });
      // The SDK keys a project by its sanitized directory.
      const mainKey = { projectKey: cwd.replace(/[^a-zA-Z0-9]/g, '-'), sessionId };
      expect((await reference.listSessions(mainKey.projectKey)).map((session) => session.sessionId)).toEqual([sessionId]);
      // The second import only repeats the entries without uuid.
      const loaded = (await sessionStore.load(mainKey)) ?? [];
      expect(loaded.slice(0, local.main.length)).toEqual(local.main);
      expect(loaded.slice(local.main.length)).toEqual(local.main.filter((entry) => entry.uuid === undefined));
      expect(await sessionStore.load({ ...mainKey, subpath: 'subagents/agent-a1b2' })).toEqual([
        ...local.subagent,
        ...local.subagent.filter((entry) => entry.uuid === undefined),
      ]);

      const messagesOf = (target: SessionStore) => sdk.getSessionMessages(sessionId, { dir: cwd, sessionStore: target });
      const ours = await messagesOf(sessionStore);
      expect(ours.map((message) => message.type)).toEqual([
        'user',
        'assistant',
        'user',
        'assistant',
        'user',
        'assistant',
        'user',
        'assistant',
        'user',
        'assistant',
        'user',
        'assistant',
      ]);
      expect(ours).toEqual(await messagesOf(reference));

      const summaries = async (target: SessionStore) =>
        (await sdk.listSessions({ dir: cwd, sessionStore: target })).map((info) => ({
          sessionId: info.sessionId,
          summary: info.summary,
          firstPrompt: info.firstPrompt,
        }));
      expect(await summaries(sessionStore)).toEqual(await summaries(reference));
      expect((await summaries(sessionStore)).map((info) => info.sessionId)).toEqual([sessionId]);

      expect(await sdk.listSubagents(sessionId, { dir: cwd, sessionStore })).toEqual(['a1b2']);
      expect(await sdk.getSubagentMessages(sessionId, 'a1b2', { dir: cwd, sessionStore })).toEqual(
        await sdk.getSubagentMessages(sessionId, 'a1b2', { dir: cwd, sessionStore: reference }),
      );

      await sdk.renameSession(sessionId, 'Renamed ✓', { dir: cwd, sessionStore });
      const info = await sdk.getSessionInfo(sessionId, { dir: cwd, sessionStore });
      expect(info).toMatchObject({ sessionId, summary: 'Renamed ✓', customTitle: 'Renamed ✓', firstPrompt: 'prompt 0 — ✓ 日本' });

      const fork = await sdk.forkSession(sessionId, { dir: cwd, sessionStore });
      expect(fork.sessionId).not.toBe(sessionId);
      const forkMessages = await sdk.getSessionMessages(fork.sessionId, { dir: cwd, sessionStore });
      expect(forkMessages.map((message) => message.message)).toEqual(ours.map((message) => message.message));
      expect((await summaries(sessionStore)).map((entry) => entry.sessionId).sort()).toEqual([sessionId, fork.sessionId].sort());
      // The original is untouched by the fork.
      expect(await messagesOf(sessionStore)).toEqual(ours);

      await sdk.deleteSession(sessionId, { dir: cwd, sessionStore });
      expect(await sessionStore.load(mainKey)).toBeNull();
      expect(await sessionStore.load({ ...mainKey, subpath: 'subagents/agent-a1b2' })).toBeNull();
      expect(await messagesOf(sessionStore)).toEqual([]);
      expect((await summaries(sessionStore)).map((entry) => entry.sessionId)).toEqual([fork.sessionId]);
    });
  });
});
