// One data directory, one owner, with real processes: a `hangar serve` (the demo model as its
// upstream, so no key is needed) holds a live session, a shared sandbox with a session in it, and
// has run a task. A second `hangar serve` and a `hangar run` on its data directory are refused
// naming its pid; a `hangar serve` on its port exits non-zero having created nothing. The first
// is unharmed: its session, its shared sandbox and new tasks still work.
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readAdminKey } from '../../src/auth/admin-key.js';
import { HangarClient } from '../../src/client/hangar-client.js';
import { acquireDataDirLock } from '../../src/runtime/data-dir-lock.js';
import { startCli, stopCli, waitForOutput, type CliProcess } from '../helpers/cli-process.js';

interface TurnEnd {
  type: string;
  data: { messageId?: string; result?: string; error?: unknown };
}

/** Sends a message and waits for its turn to end. */
async function turn(client: HangarClient, sessionId: string, prompt: string): Promise<TurnEnd> {
  const message = await client.sendMessage(sessionId, prompt);
  let end: TurnEnd | undefined;
  await client.readEvents(sessionId, {
    after: 0,
    onEvent: (event) => {
      const data = event.data as TurnEnd['data'];
      if ((event.type === 'turn_completed' || event.type === 'turn_failed') && data.messageId === message.id) {
        end = { type: event.type, data };
        return true;
      }
      return false;
    },
  });
  if (end === undefined) throw new Error(`the event stream of ${sessionId} ended before the turn did`);
  return end;
}

describe('one data directory, one owner', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-owner-'));
  // Sandbox uids traverse the data directories to reach their workspaces.
  chmodSync(directory, 0o711);
  const dataDir = path.join(directory, 'first');
  const others: CliProcess[] = [];
  let server: CliProcess | undefined;

  afterAll(async () => {
    for (const other of others) other.child.kill('SIGKILL');
    if (server !== undefined) await stopCli(server);
    rmSync(directory, { recursive: true, force: true });
  });

  it('refuses a second serve and run on the data directory and a serve on the port; the first is unharmed', async () => {
    // No ANTHROPIC_* variable: the demo model is the upstream.
    server = startCli(['serve', '--demo', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn']);
    const url = (await waitForOutput(server, /listening on (http:\/\/127\.0\.0\.1:(\d+))/))[1]!;
    const port = new URL(url).port;
    // The server wrote its admin key to the data directory at its first start.
    const client = new HangarClient(url, { apiKey: await readAdminKey(dataDir) });
    const pid = server.child.pid!;

    const session = await client.createSession({ pattern: 'long-running', allowedTools: ['Bash'] });
    const first = await turn(client, session.id, 'first turn');
    expect(first.type).toBe('turn_completed');
    expect(first.data.result).toMatch(/^\[demo\] Done/);
    const shared = await client.call<{ id: string }>('POST', '/v1/sandboxes', {});
    const inShared = await client.createSession({ pattern: 'long-running', allowedTools: ['Bash'], sandboxId: shared.id });
    expect((await turn(client, inShared.id, 'in the shared sandbox')).type).toBe('turn_completed');
    const before = await client.runTask({ prompt: 'a task before', allowedTools: ['Bash'] });
    expect(before.status).toBe('succeeded');

    // A second serve on the data directory: refused at once, naming the holder.
    const secondServe = startCli(['serve', '--demo', '--port', '0', '--data-dir', dataDir]);
    others.push(secondServe);
    const refusedServe = await secondServe.done;
    expect(refusedServe.code).toBe(1);
    expect(refusedServe.stderr).toMatch(/DATA_DIR_IN_USE/);
    expect(refusedServe.stderr).toContain(`pid ${pid}`);
    expect(refusedServe.stderr).toContain(`hangar run --server ${url}`);

    // A run on the data directory: refused the same way.
    const secondRun = startCli(['run', '--demo', '--data-dir', dataDir, 'a task that must not run']);
    others.push(secondRun);
    const refusedRun = await secondRun.done;
    expect(refusedRun.code).toBe(1);
    expect(refusedRun.stderr).toMatch(/DATA_DIR_IN_USE/);
    expect(refusedRun.stderr).toContain(`pid ${pid}`);
    expect(refusedRun.stdout).not.toMatch(/task_/);

    // A serve on the same port with a data directory of its own: non-zero exit, nothing created.
    const otherDir = path.join(directory, 'port-taken');
    const samePort = startCli(['serve', '--demo', '--port', port, '--data-dir', otherDir]);
    others.push(samePort);
    const refusedPort = await samePort.done;
    expect(refusedPort.code).toBe(1);
    expect(refusedPort.stderr).toMatch(new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
    expect(readdirSync(otherDir)).toEqual(['hangar.lock']);
    acquireDataDirLock(otherDir, 'test').release();

    // The first server is unharmed.
    expect(existsSync(path.join(dataDir, 'run', 'model-gateway.sock'))).toBe(true);
    expect((await (await fetch(`${url}/readyz`)).json()) as { status: string }).toMatchObject({ status: 'ready' });
    expect((await client.getSession(session.id)).status).toBe('idle');
    expect((await turn(client, session.id, 'second turn')).type).toBe('turn_completed');
    expect((await client.call<{ status: string }>('GET', `/v1/sandboxes/${shared.id}`)).status).toBe('active');
    expect((await client.getSession(inShared.id)).status).toBe('idle');
    expect((await turn(client, inShared.id, 'again in the shared sandbox')).type).toBe('turn_completed');
    const after = await client.runTask({ prompt: 'a task after', allowedTools: ['Bash'] });
    expect(after.status).toBe('succeeded');
    expect(after.result).toMatch(/^\[demo\]/);

    // Stopped, it releases the directory.
    const stopped = await stopCli(server);
    server = undefined;
    expect(stopped.code).toBe(0);
    acquireDataDirLock(dataDir, 'test').release();
  }, 240_000);
});
