// Sessions end to end with the real CLI in real sandboxes: long-running, hybrid, hibernation and
// wake, fork, and the errors a user meets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HangarApiError } from '../../src/client/hangar-client.js';
import { cliSpawns, eventually, startHarness, toolResultsSent, userTexts, waitForTurns, type Harness } from '../helpers/hangar-harness.js';

const bash = (command: string, match?: string) => ({
  ...(match ? { match: { lastUserText: match } } : {}),
  content: [{ type: 'tool_use' as const, name: 'Bash', input: { command, description: 'step' } }],
});
const say = (text: string) => ({ content: [{ type: 'text' as const, text }] });

describe('sessions', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ scenario: { replies: [] } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('long-running: three messages share one sandbox and one CLI process, which remembers files and turns', async () => {
    harness.model.setScenario({
      replies: [
        bash('echo "alpha" > notes.txt && echo wrote', 'first message'),
        say('Noted alpha.'),
        bash('cat notes.txt && echo beta >> notes.txt', 'second message'),
        say('Added beta.'),
        bash('cat notes.txt', 'third message'),
        say('The file has alpha and beta.'),
      ],
    });
    const session = await harness.client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], prompt: 'first message', idleTimeoutSec: 600 });
    expect(session.pattern).toBe('long-running');
    await waitForTurns(harness.client, session.id, 1, 60_000);
    await harness.client.sendMessage(session.id, 'second message');
    await harness.client.sendMessage(session.id, 'third message');
    const done = await waitForTurns(harness.client, session.id, 3, 60_000);
    expect(done.status).toBe('idle');
    expect(done.checkpoint).toMatchObject({ turn: 3, sizeBytes: expect.any(Number), transcriptEntries: expect.any(Number) });
    expect(done.usage.inputTokens).toBeGreaterThan(0);
    expect(done.costUsd).toBeGreaterThan(0);

    const spawns = cliSpawns(harness).filter((spawn) => spawn.sandboxId !== undefined);
    const sandboxIds = new Set(spawns.map((spawn) => spawn.sandboxId));
    expect(spawns).toHaveLength(1);
    expect(sandboxIds.size).toBe(1);

    const results = toolResultsSent(harness.model);
    expect(results.at(-2)).toContain('alpha');
    expect(results.at(-1)).toBe('alpha\nbeta');
    const lastRequest = harness.model.requests.filter((request) => request.kind === 'main').at(-1)!;
    expect(userTexts(lastRequest.body)).toEqual(expect.arrayContaining(['first message', 'second message', 'third message']));

    const messages = await harness.client.listMessages(session.id);
    expect(messages.map((message) => [message.seq, message.status])).toEqual([
      [1, 'done'],
      [2, 'done'],
      [3, 'done'],
    ]);
    await harness.client.closeSession(session.id);
  });

  it('hybrid: every message runs in a fresh sandbox, and workspace and conversation carry over', async () => {
    harness.sandboxes.clear();
    harness.model.setScenario({
      replies: [
        bash('echo one > log.txt && echo ok', 'step one'),
        say('Step one done.'),
        bash('cat log.txt && echo two >> log.txt', 'step two'),
        say('Step two done.'),
        bash('cat log.txt', 'step three'),
        say('Step three done.'),
      ],
    });
    const session = await harness.client.createSession({ pattern: 'hybrid', allowedTools: ['Bash'], prompt: 'step one' });
    await waitForTurns(harness.client, session.id, 1, 60_000);
    await harness.client.sendMessage(session.id, 'step two');
    await waitForTurns(harness.client, session.id, 2, 60_000);
    await harness.client.sendMessage(session.id, 'step three');
    const done = await waitForTurns(harness.client, session.id, 3, 60_000);
    expect(done.status).toBe('idle');

    const spawns = cliSpawns(harness);
    expect(spawns).toHaveLength(3);
    expect(new Set(spawns.map((spawn) => spawn.sandboxId)).size).toBe(3);
    const results = toolResultsSent(harness.model);
    expect(results.at(-2)).toBe('one');
    expect(results.at(-1)).toBe('one\ntwo');
    const lastRequest = harness.model.requests.filter((request) => request.kind === 'main').at(-1)!;
    expect(userTexts(lastRequest.body)).toEqual(expect.arrayContaining(['step one', 'step two', 'step three']));
    // Between turns nothing runs: no process of any of its sandboxes is left.
    for (const spawn of spawns) expect(() => process.kill(spawn.pid, 0)).toThrow();
  });

  it('hibernates when idle and wakes on a message with every file intact, five times over', async () => {
    const binary = Buffer.from(Array.from({ length: 4096 }, (_, index) => (index * 131 + 7) % 256)).toString('latin1');
    const replies = [bash('head -c 200000 /dev/urandom > random-0.bin && sha256sum *.bin *.txt | sort', 'cycle 0'), say('cycle 0 done')];
    for (let cycle = 1; cycle <= 5; cycle += 1) {
      replies.push(bash(`sha256sum *.bin *.txt | sort && head -c 200000 /dev/urandom > random-${cycle}.bin`, `cycle ${cycle}`), say(`cycle ${cycle} done`));
    }
    replies.push(bash('sha256sum *.bin *.txt | sort', 'final'), say('final done'));
    harness.model.setScenario({ replies });
    const session = await harness.client.createSession({
      pattern: 'long-running',
      allowedTools: ['Bash'],
      idleTimeoutSec: 1,
      files: { 'seed.txt': 'seed file\n', 'latin.txt': binary },
      prompt: 'cycle 0',
    });
    let previousHashes = '';
    for (let cycle = 0; cycle <= 6; cycle += 1) {
      const hibernated = await eventually(
        async () => {
          const current = await harness.client.getSession(session.id);
          return current.status === 'hibernated' && current.turns === cycle + 1 ? current : undefined;
        },
        60_000,
        `hibernation after cycle ${cycle}`,
      );
      expect(hibernated.checkpoint).not.toBeNull();
      const results = toolResultsSent(harness.model);
      const hashes = results.at(-1)!;
      if (cycle > 0) {
        // Every file that existed before hibernating is back, byte for byte (sha256), and nothing else changed.
        const listed = hashes
          .split('\n')
          .filter((line) => !line.includes(`random-${cycle}.bin`))
          .join('\n');
        const before = previousHashes.split('\n').join('\n');
        expect(listed.split('\n').filter((line) => before.includes(line.split(' ')[0]!))).toHaveLength(before.split('\n').length);
      }
      previousHashes = hashes;
      if (cycle < 5) await harness.client.sendMessage(session.id, `cycle ${cycle + 1}`);
      else if (cycle === 5) await harness.client.sendMessage(session.id, 'final');
    }
    // The seed files given at creation are intact too.
    expect(previousHashes).toMatch(/ {2}seed\.txt/);
    expect(previousHashes).toMatch(/ {2}latin\.txt/);
    for (let cycle = 0; cycle <= 5; cycle += 1) expect(previousHashes).toContain(`random-${cycle}.bin`);
    // Each wake was reported in the event stream, and the conversation survived every hibernation.
    const woke: unknown[] = [];
    await harness.client.readEvents(session.id, { after: 0, follow: false, onEvent: (event) => void (event.type === 'woke' && woke.push(event.data)) });
    expect(woke).toHaveLength(6);
    const lastRequest = harness.model.requests.filter((request) => request.kind === 'main').at(-1)!;
    expect(userTexts(lastRequest.body)).toEqual(expect.arrayContaining(['cycle 0', 'cycle 3', 'cycle 5', 'final']));
  }, 180_000);

  it('hibernates a session that was given files but no message yet, and wakes it with them', async () => {
    harness.model.setScenario({ replies: [bash('cat given.txt', 'read the file'), say('Read it.')] });
    const session = await harness.client.createSession({
      pattern: 'long-running',
      allowedTools: ['Bash'],
      idleTimeoutSec: 1,
      files: { 'given.txt': 'given at creation\n' },
    });
    expect(session.checkpoint).toMatchObject({ id: expect.any(String) });
    await eventually(
      async () => ((await harness.client.getSession(session.id)).status === 'hibernated' ? true : undefined),
      30_000,
      'hibernation without a turn',
    );
    const lifecycle: string[] = [];
    await harness.client.readEvents(session.id, { after: 0, follow: false, onEvent: (event) => void lifecycle.push(event.type) });
    expect(lifecycle).toContain('hibernated');
    await harness.client.sendMessage(session.id, 'read the file');
    await waitForTurns(harness.client, session.id, 1, 60_000);
    expect(toolResultsSent(harness.model).at(-1)).toBe('given at creation');
    await harness.client.closeSession(session.id);
  });

  it('forks from a checkpoint: the fork diverges and the original is unchanged', async () => {
    harness.model.setScenario({
      replies: [
        bash('echo original > story.txt && echo ok', 'begin'),
        say('Begun.'),
        bash('echo "fork line" >> story.txt && cat story.txt', 'fork continues'),
        say('Fork diverged.'),
        bash('cat story.txt', 'original continues'),
        say('Original intact.'),
      ],
    });
    const original = await harness.client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], prompt: 'begin', idleTimeoutSec: 600 });
    const afterFirst = await waitForTurns(harness.client, original.id, 1, 60_000);
    const fork = await harness.client.forkSession(original.id);
    expect(fork.id).not.toBe(original.id);
    expect(fork.forkedFrom).toEqual({ sessionId: original.id, checkpointId: afterFirst.checkpoint!.id });
    await harness.client.sendMessage(fork.id, 'fork continues');
    const forkDone = await waitForTurns(harness.client, fork.id, 2, 60_000);
    expect(forkDone.agentSessionId).not.toBe(afterFirst.agentSessionId);
    expect(toolResultsSent(harness.model).at(-1)).toBe('original\nfork line');
    // The fork's model call carried the original's conversation.
    const forkRequest = harness.model.requests.filter((request) => request.kind === 'main').at(-1)!;
    expect(userTexts(forkRequest.body)).toEqual(expect.arrayContaining(['begin', 'fork continues']));

    await harness.client.sendMessage(original.id, 'original continues');
    await waitForTurns(harness.client, original.id, 2, 60_000);
    expect(toolResultsSent(harness.model).at(-1)).toBe('original');
    const originalRequest = harness.model.requests.filter((request) => request.kind === 'main').at(-1)!;
    expect(userTexts(originalRequest.body)).not.toContain('fork continues');
  });

  it('answers bad requests with clear 4xx errors', async () => {
    const expectApiError = async (promise: Promise<unknown>, status: number, code: string) => {
      const error = await promise.then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(HangarApiError);
      expect(error).toMatchObject({ status, code });
    };
    await expectApiError(harness.client.getSession('sess_missing'), 404, 'SESSION_NOT_FOUND');
    await expectApiError(harness.client.sendMessage('sess_missing', 'hi'), 404, 'SESSION_NOT_FOUND');
    const session = await harness.client.createSession({ pattern: 'long-running', allowedTools: ['Bash'] });
    await expectApiError(harness.client.forkSession(session.id), 409, 'NO_CHECKPOINT');
    await expectApiError(harness.client.call('POST', `/v1/sessions/${session.id}/schedules`, { every: 'often', prompt: 'x' }), 400, 'VALIDATION_FAILED');
    await expectApiError(
      harness.client.call('POST', `/v1/sessions/${session.id}/schedules`, { cron: 'not a cron at all', prompt: 'x' }),
      400,
      'VALIDATION_FAILED',
    );
    await expectApiError(
      harness.client.call('POST', `/v1/sessions/${session.id}/schedules`, { every: '5m', cron: '* * * * *', prompt: 'x' }),
      400,
      'VALIDATION_FAILED',
    );
    await expectApiError(harness.client.call('POST', '/v1/sessions', { pattern: 'forever' }), 400, 'VALIDATION_FAILED');
    await expectApiError(harness.client.call('POST', '/v1/sessions', { pattern: 'hybrid', sandboxId: 'sbx_x' }), 400, 'VALIDATION_FAILED');
    await harness.client.closeSession(session.id);
    await expectApiError(harness.client.sendMessage(session.id, 'too late'), 409, 'SESSION_CLOSED');
  });
});
