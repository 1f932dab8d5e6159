// Checkpoint retention end to end, with the real CLI in real sandboxes: a session keeps only its
// newest checkpoints (sessions.checkpointRetention), a fork keeps its own copy, and DELETE
// /v1/sessions/:id removes the session's checkpoint blobs from <dataDir>/blobs.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HangarApiError } from '../../src/client/hangar-client.js';
import { startHarness, toolResultsSent, waitForTurns, type Harness } from '../helpers/hangar-harness.js';

const RETENTION = 2;
const bash = (command: string, match: string) => ({
  match: { lastUserText: match },
  content: [{ type: 'tool_use' as const, name: 'Bash', input: { command, description: 'step' } }],
});
const say = (text: string) => ({ content: [{ type: 'text' as const, text }] });

/** Files under <dataDir>/blobs, relative, temp files of puts included. */
async function blobFiles(harness: Harness): Promise<string[]> {
  const root = path.join(harness.dataDir, 'blobs');
  const found: string[] = [];
  const walk = async (directory: string): Promise<void> => {
    for (const entry of await readdir(directory, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(directory, entry.name);
      if (entry.isDirectory()) await walk(full);
      else found.push(path.relative(root, full));
    }
  };
  await walk(root);
  return found.sort();
}

describe('checkpoint retention and deletion', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ scenario: { replies: [] }, config: { sessions: { checkpointRetention: RETENTION } } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('keeps the newest checkpoints, gives a fork its own copy, and deletes a closed session’s blobs', async () => {
    const replies = [];
    for (let turn = 1; turn <= 4; turn += 1) replies.push(bash(`echo "line ${turn}" >> log.txt && wc -l < log.txt`, `turn ${turn}`), say(`Turn ${turn} done.`));
    replies.push(bash('cat log.txt', 'fork reads'), say('Fork read the log.'));
    harness.model.setScenario({ replies });
    const session = await harness.client.createSession({
      pattern: 'long-running',
      allowedTools: ['Bash'],
      prompt: 'turn 1',
      idleTimeoutSec: 600,
      files: { 'README.md': '# kept\n' },
    });
    await waitForTurns(harness.client, session.id, 1);
    for (let turn = 2; turn <= 4; turn += 1) await harness.client.sendMessage(session.id, `turn ${turn}`);
    const done = await waitForTurns(harness.client, session.id, 4);

    // Five checkpoints were taken (the initial files and four turns): the newest two remain.
    const { checkpoints } = await harness.client.call<{ checkpoints: Array<{ id: string; turn: number }> }>('GET', `/v1/sessions/${session.id}/checkpoints`);
    expect(checkpoints.map((checkpoint) => checkpoint.turn)).toEqual([4, 3]);
    expect(done.checkpoint?.id).toBe(checkpoints[0]!.id);
    expect(await blobFiles(harness)).toEqual(checkpoints.map((checkpoint) => `sessions/${session.id}/${checkpoint.id}.tar.zst`).sort());

    const fork = await harness.client.forkSession(session.id);
    expect(await blobFiles(harness)).toHaveLength(RETENTION + 1);

    const closed = await harness.client.closeSession(session.id);
    expect(closed.status).toBe('closed');
    expect(closed.checkpoint).toBeNull();
    // Only the fork's own copy is left on disk.
    expect(await blobFiles(harness)).toEqual([`sessions/${fork.id}/${fork.checkpoint!.id}.tar.zst`]);
    const { checkpoints: left } = await harness.client.call<{ checkpoints: unknown[] }>('GET', `/v1/sessions/${session.id}/checkpoints`);
    expect(left).toEqual([]);
    const forkOfClosed = await harness.client.forkSession(session.id).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(forkOfClosed).toBeInstanceOf(HangarApiError);
    expect(forkOfClosed).toMatchObject({ status: 409, code: 'SESSION_CLOSED' });

    // The fork still wakes from its copy, with the workspace of turn 4.
    await harness.client.sendMessage(fork.id, 'fork reads');
    await waitForTurns(harness.client, fork.id, 5);
    expect(toolResultsSent(harness.model).at(-1)).toBe('line 1\nline 2\nline 3\nline 4');
    await harness.client.closeSession(fork.id);
    expect(await blobFiles(harness)).toEqual([]);
  }, 240_000);
});
