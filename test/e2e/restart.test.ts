// Durability across a crash: `hangar serve` is SIGKILLed with a task in flight and started again
// on the same data directory. Finished tasks are all there; the one in flight is marked
// interrupted; nothing of its sandbox (nor of the warm pool's) survives.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useCrashableServer } from '../helpers/server-process.js';

describe('tasks across a server crash', () => {
  const bed = useCrashableServer('hangar-restart-');

  it('keeps finished tasks, marks the one in flight interrupted and cleans its sandbox', async () => {
    const { dataDir, model } = bed;
    let server = await bed.start();
    model.setScenario({
      replies: [{ content: [{ type: 'text', text: 'finished before the crash' }] }, { delayMs: 60_000, content: [{ type: 'text', text: 'never sent' }] }],
    });
    const finished = await server.client.runTask({ prompt: 'first', allowedTools: ['Bash'] });
    expect(finished.status).toBe('succeeded');

    const response = await fetch(new URL('/v1/tasks', server.client.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.apiKey}` },
      body: JSON.stringify({ prompt: 'second', allowedTools: ['Bash'], wait: false }),
    });
    const inFlight = (await response.json()) as { id: string };
    // Wait until the CLI of the second task is talking to the model.
    const deadline = Date.now() + 20_000;
    while (model.requests.filter((request) => request.kind === 'main').length < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The in-flight task's sandbox, the warm pool's and the prepared image pairs: all die with the server.
    const sandboxRoot = path.join(dataDir, 'sandboxes');
    const crashed = readdirSync(sandboxRoot);
    expect(crashed.filter((entry) => !entry.startsWith('.')).length).toBeGreaterThan(0);

    await bed.crash();

    server = await bed.start();
    const before = await server.client.getTask(finished.id);
    expect(before).toMatchObject({ status: 'succeeded', result: 'finished before the crash' });
    const interrupted = await server.client.getTask(inFlight.id);
    expect(interrupted.status).toBe('interrupted');
    expect(interrupted.error?.message).toMatch(/server stopped/);

    // The restarted server works, and no trace of the crashed task's sandbox remains.
    model.setScenario({ replies: [{ content: [{ type: 'text', text: 'after the restart' }] }] });
    const after = await server.client.runTask({ prompt: 'third', allowedTools: ['Bash'] });
    expect(after).toMatchObject({ status: 'succeeded', result: 'after the restart' });
    const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
    for (const entry of crashed) {
      expect(existsSync(path.join(sandboxRoot, entry)), entry).toBe(false);
      expect(mountinfo).not.toContain(path.join(sandboxRoot, entry));
      for (const controller of ['memory', 'pids', 'cpu']) {
        expect(existsSync(`/sys/fs/cgroup/${controller}/hangar/${entry}`), `${controller} cgroup of ${entry}`).toBe(false);
      }
    }
  }, 90_000);
});
