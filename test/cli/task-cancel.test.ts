// Stopping tasks from the terminal, with real processes: Ctrl-C (SIGINT) of `hangar run` cancels
// the task it started, embedded and with --server (through the cancel API); SIGTERM of `hangar serve`
// with a task running interrupts it within the drain and exits. In each case the agent was running
// `sleep 600`: no process of its sandbox is left and the record says what happened.
import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, resolveDataPaths } from '../../src/config/config.js';
import { startScriptedModelServer, type ScriptedModelServer } from '../../src/model/scripted-model-server.js';
import { createStore } from '../../src/store/registry.js';
import type { TaskRecord } from '../../src/store/store.js';
import { startCli, type Finished } from '../helpers/cli-process.js';
import { eventually } from '../helpers/hangar-harness.js';
import { startServerProcess, stopServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { markedSleep, processesOfUid, sandboxUidRunningSleep } from '../helpers/task-processes.js';

const children: ChildProcess[] = [];
const servers: ServerProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const server of servers.splice(0)) await stopServerProcess(server);
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function dataDirectory(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'hangar-cancel-cli-'));
  // Sandbox uids traverse the data directory to reach their workspaces.
  chmodSync(dir, 0o711);
  dirs.push(dir);
  return dir;
}

function startRun(args: string[], modelUrl: string, apiKey?: string): { child: ChildProcess; done: Promise<Finished>; taskId: () => Promise<string> } {
  const { child, done, stdout, stderr } = startCli(['run', ...args], {
    ANTHROPIC_BASE_URL: modelUrl,
    ANTHROPIC_API_KEY: 'sk-cancel-cli-test',
    ...(apiKey !== undefined ? { HANGAR_API_KEY: apiKey } : {}),
  });
  children.push(child);
  // The id `hangar run` prints once the task exists; fails at once with the output if the command ends first.
  const taskId = async (): Promise<string> => {
    const found = await eventually(
      () => {
        const match = /· task (task_\w+)/.exec(stdout());
        if (match) return match[1]!;
        if (child.exitCode !== null) throw new Error(`hangar run ended (${child.exitCode}) before its task started:\n${stdout()}\n${stderr()}`);
        return undefined;
      },
      60_000,
      'the task id',
    );
    return found;
  };
  return { child, done, taskId };
}

/** Reads a task's record and last event from a data directory no process holds any more. */
async function readStored(dataDir: string, taskId: string): Promise<{ task: TaskRecord | undefined; lastEvent: { type: string; data: unknown } | undefined }> {
  const config = parseConfig({ dataDir });
  const store = await createStore(config, resolveDataPaths(config));
  try {
    const events = await store.events.read(taskId, { after: 0, limit: 10_000 });
    return { task: await store.tasks.get(taskId), lastEvent: events.at(-1) };
  } finally {
    await store.close();
  }
}

/** Sandbox directories left in a data directory (hidden bookkeeping entries aside). */
function sandboxDirs(dataDir: string): string[] {
  const root = path.join(dataDir, 'sandboxes');
  return existsSync(root) ? readdirSync(root).filter((entry) => !entry.startsWith('.')) : [];
}

describe('stopping tasks from the terminal', () => {
  let model: ScriptedModelServer;

  beforeAll(async () => {
    model = await startScriptedModelServer({ scenario: { replies: [] }, host: '127.0.0.1', port: 0, logger: false });
  });
  afterAll(async () => {
    await model?.close();
  });

  /** The scripted agent runs `sleep 600` (a marked one); returns the marker. */
  function scriptSleeper(): string {
    const sleep = markedSleep();
    model.setScenario({
      replies: [
        { content: [{ type: 'tool_use', name: 'Bash', input: { command: sleep.command, description: 'sleep' } }] },
        { content: [{ type: 'text', text: 'woke up' }] },
      ],
    });
    return sleep.marker;
  }

  it('Ctrl-C on an embedded `hangar run` cancels its task, says so and exits 130', async () => {
    const dataDir = dataDirectory();
    const marker = scriptSleeper();
    const run = startRun(['sleep for ten minutes', '--allowed-tools', 'Bash', '--max-turns', '4', '--data-dir', dataDir], model.url);
    const taskId = await run.taskId();
    const uid = await eventually(() => sandboxUidRunningSleep(marker), 60_000, "the agent's sleep 600");

    run.child.kill('SIGINT');
    const finished = await run.done;
    expect(finished.code).toBe(130);
    expect(finished.stderr).toContain(`cancelling task ${taskId}`);
    expect(finished.stderr).toContain(`task ${taskId} cancelled`);
    expect(finished.stdout).toMatch(/cancelled: CANCELLED/);
    expect(processesOfUid(uid)).toEqual([]);
    expect(sandboxDirs(dataDir)).toEqual([]);
    const stored = await readStored(dataDir, taskId);
    expect(stored.task).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED' } });
    expect(stored.lastEvent?.type).toBe('task_finished');
  }, 150_000);

  it('Ctrl-C on `hangar run --server` cancels the task on the server through the cancel API', async () => {
    const dataDir = dataDirectory();
    const server = await startServerProcess(dataDir, model.url);
    servers.push(server);
    const marker = scriptSleeper();
    const run = startRun(['sleep for ten minutes', '--allowed-tools', 'Bash', '--max-turns', '4', '--server', server.client.baseUrl], model.url, server.apiKey);
    const taskId = await run.taskId();
    const uid = await eventually(() => sandboxUidRunningSleep(marker), 60_000, "the agent's sleep 600");

    run.child.kill('SIGINT');
    const finished = await run.done;
    expect(finished.code).toBe(130);
    expect(finished.stderr).toContain(`task ${taskId} cancelled`);
    expect(processesOfUid(uid)).toEqual([]);
    const task = await server.client.getTask(taskId);
    expect(task).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED' } });
    expect(sandboxDirs(dataDir)).not.toContain(task.sandbox?.sandboxId);
    // The server runs on.
    model.setScenario({ replies: [{ content: [{ type: 'text', text: 'still serving' }] }] });
    expect(await server.client.runTask({ prompt: 'still there?', allowedTools: ['Bash'] })).toMatchObject({ status: 'succeeded', result: 'still serving' });
  }, 150_000);

  it('SIGTERM on `hangar serve` with a task running interrupts it within the drain, logs it, and exits', async () => {
    const dataDir = dataDirectory();
    const server = await startServerProcess(dataDir, model.url);
    servers.push(server);
    const marker = scriptSleeper();
    const task = await server.client.createTask({ prompt: 'sleep for ten minutes', allowedTools: ['Bash'], maxTurns: 4 });
    const uid = await eventually(() => sandboxUidRunningSleep(marker), 60_000, "the agent's sleep 600");

    server.child.kill('SIGTERM');
    await server.exited;
    expect(server.child.exitCode).toBe(0);
    expect(server.output()).toMatch(/shutdown: interrupting 1 running task/);
    expect(server.output()).toContain(task.id);
    expect(processesOfUid(uid)).toEqual([]);
    expect(sandboxDirs(dataDir)).toEqual([]);
    const stored = await readStored(dataDir, task.id);
    expect(stored.task).toMatchObject({ status: 'interrupted', error: { code: 'INTERRUPTED' } });
    expect(stored.task?.error?.message).toMatch(/shut down/);
    expect(stored.lastEvent?.type).toBe('task_finished');
  }, 150_000);
});
