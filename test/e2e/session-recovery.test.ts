// Sessions across a crash: `hangar serve` is SIGKILLed with one session idle, one mid-turn, one in a
// shared sandbox and one on a schedule, then started again on the same data directory.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScriptedModelServer, type ScriptedModelServer } from '../../src/model/scripted-model-server.js';
import { startServerProcess, stopServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { eventually, toolResultsSent, userTexts } from '../helpers/hangar-harness.js';

const bash = (command: string, match: string) => ({
  match: { lastUserText: match },
  content: [{ type: 'tool_use' as const, name: 'Bash', input: { command, description: 'step' } }],
});
const say = (text: string, match: string, extra: Record<string, unknown> = {}) => ({
  match: { lastUserText: match },
  ...extra,
  content: [{ type: 'text' as const, text }],
});

describe('sessions across a server crash', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'hangar-session-recovery-'));
  chmodSync(dataDir, 0o711);
  let model: ScriptedModelServer;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    model = await startScriptedModelServer({
      scenario: {
        replies: [
          bash('echo "kept across the crash" > memo.txt && echo saved', 'save the memo'),
          say('Memo saved.', 'save the memo'),
          say('This answer never arrives.', 'slow work', { delayMs: 120_000 }),
          bash('cat memo.txt', 'read the memo'),
          say('Memo read.', 'read the memo'),
          say('Slow work done on retry.', 'slow work'),
          say('tick', 'tick', { times: 1000 }),
          bash('echo "in the shared workspace" > shared.txt && echo ok', 'share write'),
          say('Written to the shared sandbox.', 'share write'),
          bash('cat shared.txt', 'share read'),
          say('Read from the restored shared sandbox.', 'share read'),
        ],
      },
      host: '127.0.0.1',
      port: 0,
      logger: false,
    });
  });
  afterAll(async () => {
    await stopServerProcess(server);
    await model.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('continues idle sessions from their checkpoint, marks the turn in flight interrupted, restores shared sandboxes and keeps schedules', async () => {
    server = await startServerProcess(dataDir, model.url);
    let client = server.client;
    const idle = await client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], prompt: 'save the memo', idleTimeoutSec: 600 });
    await eventually(async () => ((await client.getSession(idle.id)).turns === 1 ? true : undefined), 60_000, 'first turn');
    const busy = await client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], prompt: 'slow work', idleTimeoutSec: 600 });
    await eventually(
      () => (model.requests.some((request) => request.kind === 'main' && userTexts(request.body).includes('slow work')) ? true : undefined),
      60_000,
      'slow turn to reach the model',
    );
    const shared = await client.call<{ id: string }>('POST', '/v1/sandboxes', {});
    const sharer = await client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], sandboxId: shared.id, prompt: 'share write' });
    await eventually(async () => ((await client.getSession(sharer.id)).turns === 1 ? true : undefined), 60_000, 'shared sandbox turn');
    const ticking = await client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], idleTimeoutSec: 600 });
    await client.call('POST', `/v1/sessions/${ticking.id}/schedules`, { every: '1s', prompt: 'tick' });

    server.child.kill('SIGKILL');
    await server.exited;
    server = await startServerProcess(dataDir, model.url);
    client = server.client;

    // The idle session is found again and continues from its checkpoint: file and conversation intact.
    expect((await client.getSession(idle.id)).status).toBe('hibernated');
    await client.sendMessage(idle.id, 'read the memo');
    await eventually(async () => ((await client.getSession(idle.id)).turns === 2 ? true : undefined), 60_000, 'turn after restart');
    expect(toolResultsSent(model).at(-1)).toBe('kept across the crash');
    const lastIdleRequest = model.requests.filter((request) => request.kind === 'main' && userTexts(request.body).includes('read the memo')).at(-1)!;
    expect(userTexts(lastIdleRequest.body)).toContain('save the memo');

    // The turn in flight is marked interrupted, and sending it again works.
    const busyMessages = await client.listMessages(busy.id);
    expect(busyMessages.map((message) => message.status)).toEqual(['interrupted']);
    expect(busyMessages[0]!.error?.message).toMatch(/send it again/);
    await client.sendMessage(busy.id, 'slow work');
    await eventually(async () => ((await client.getSession(busy.id)).turns === 1 ? true : undefined), 60_000, 'retried turn');

    // The shared sandbox is back, with its workspace, and its session continues in it.
    expect((await client.call<{ status: string; sessions: string[] }>('GET', `/v1/sandboxes/${shared.id}`)).status).toBe('active');
    await client.sendMessage(sharer.id, 'share read');
    await eventually(async () => ((await client.getSession(sharer.id)).turns === 2 ? true : undefined), 60_000, 'shared sandbox turn after restart');
    expect(toolResultsSent(model).at(-1)).toBe('in the shared workspace');

    // The schedule survived the restart and keeps firing.
    const ticksBefore = (await client.getSession(ticking.id)).turns;
    await eventually(async () => ((await client.getSession(ticking.id)).turns >= ticksBefore + 2 ? true : undefined), 30_000, 'schedule after restart');
  }, 180_000);
});
