// Cancelling and following tasks, end to end: real sandboxes and the real CLI driven by the scripted
// model. A task whose agent runs `sleep 600` is cancelled through the API (POST .../cancel and DELETE):
// the record says cancelled, every process of its sandbox is gone and the sandbox is destroyed. A task
// started with wait: false is followed through its event stream, which replays after a reconnect.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskEventView, TaskView } from '../../src/client/hangar-client.js';
import { eventually, startHarness, type Harness } from '../helpers/hangar-harness.js';
import { markedSleep, processesOfUid, sandboxUidRunningSleep } from '../helpers/task-processes.js';

const bash = (command: string) => ({ content: [{ type: 'tool_use' as const, name: 'Bash', input: { command, description: 'step' } }] });
const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });

describe('cancelling and following tasks', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ scenario: { replies: [] } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  /** Starts a task whose agent sleeps 600 s; resolves once the sleep runs, with the sandbox's host uid. */
  async function startSleeper(): Promise<{ task: TaskView; uid: number }> {
    const sleep = markedSleep();
    harness.model.setScenario({ replies: [bash(sleep.command), text('woke up')] });
    const task = await harness.client.createTask({ prompt: 'Sleep for ten minutes.', allowedTools: ['Bash'], maxTurns: 4 });
    expect(task.status).toBe('running');
    const uid = await eventually(() => sandboxUidRunningSleep(sleep.marker), 60_000, "the agent's sleep 600 to run");
    return { task, uid };
  }

  async function expectSandboxGone(task: TaskView, uid: number): Promise<void> {
    expect(processesOfUid(uid)).toEqual([]);
    const sandboxId = task.sandbox?.sandboxId;
    expect(sandboxId).toBeDefined();
    const record = harness.sandboxes.get(sandboxId!);
    expect(record).toBeDefined();
    expect(existsSync(path.join(harness.dataDir, 'sandboxes', sandboxId!))).toBe(false);
  }

  it('cancels a running task through POST /v1/tasks/:id/cancel: cancelled, no process left, sandbox destroyed', async () => {
    const { task, uid } = await startSleeper();
    const cancelled = await harness.client.cancelTask(task.id);
    expect(cancelled).toMatchObject({ id: task.id, status: 'cancelled', result: null });
    expect(cancelled.error?.code).toBe('CANCELLED');
    expect(cancelled.error?.message).toMatch(/cancelled by a client/);
    await expectSandboxGone(cancelled, uid);
    expect(await harness.client.getTask(task.id)).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED' } });

    // Its event stream, replayed from the start, ends at the final record.
    const events: TaskEventView[] = [];
    await harness.client.readTaskEvents(task.id, { after: 0, onEvent: (event) => void events.push(event) });
    const types = events.map((event) => event.type);
    expect(types[0]).toBe('task_created');
    expect(types).toContain('task_started');
    expect(types).toContain('sdk');
    expect(events.find((event) => event.type === 'task_stopping')?.data).toEqual({ reason: 'cancelled' });
    expect(types.at(-1)).toBe('task_finished');
    expect((events.at(-1)!.data as { task: TaskView }).task).toMatchObject({ id: task.id, status: 'cancelled' });
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));

    // Cancelling again: 409 in the documented format.
    const again = await fetch(new URL(`/v1/tasks/${task.id}/cancel`, harness.baseUrl), { method: 'POST' });
    expect(again.status).toBe(409);
    const body = (await again.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('TASK_NOT_RUNNING');
    expect(body.error.message).toMatch(/already cancelled/);
  }, 150_000);

  it('cancels through DELETE /v1/tasks/:id too; a finished task answers 409, an unknown one 404', async () => {
    const { task, uid } = await startSleeper();
    const response = await fetch(new URL(`/v1/tasks/${task.id}`, harness.baseUrl), { method: 'DELETE' });
    expect(response.status).toBe(200);
    const cancelled = (await response.json()) as TaskView;
    expect(cancelled).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED' } });
    await expectSandboxGone(cancelled, uid);

    harness.model.setScenario({ replies: [text('quick')] });
    const done = await harness.client.runTask({ prompt: 'be quick', allowedTools: ['Bash'] });
    expect(done.status).toBe('succeeded');
    const late = await fetch(new URL(`/v1/tasks/${done.id}`, harness.baseUrl), { method: 'DELETE' });
    expect(late.status).toBe(409);
    expect(((await late.json()) as { error: { code: string } }).error.code).toBe('TASK_NOT_RUNNING');

    const unknown = await fetch(new URL('/v1/tasks/task_doesnotexist/cancel', harness.baseUrl), { method: 'POST' });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('TASK_NOT_FOUND');
  }, 150_000);

  it('follows a wait:false task through its event stream, replaying after a reconnect with Last-Event-ID', async () => {
    harness.model.setScenario({ replies: [bash('echo followed-output'), text('followed to the end')] });
    const created = await harness.client.createTask({ prompt: 'Say something.', allowedTools: ['Bash'], maxTurns: 4 });

    // First connection: drops after two events.
    const first: TaskEventView[] = [];
    const lastSeen = await harness.client.readTaskEvents(created.id, {
      after: 0,
      onEvent: (event) => {
        first.push(event);
        return first.length === 2;
      },
    });
    expect(lastSeen).toBe(2);

    // Reconnect after the last id seen (sent as Last-Event-ID): the rest, live, to the end.
    const rest: TaskEventView[] = [];
    const final = await harness.client.followTask(created.id, { after: lastSeen, onEvent: (event) => void rest.push(event) });
    expect(final).toMatchObject({ id: created.id, status: 'succeeded', result: 'followed to the end' });
    expect(rest[0]!.seq).toBe(3);
    const all = [...first, ...rest];
    expect(all.map((event) => event.seq)).toEqual(all.map((_, index) => index + 1));
    expect(all.at(-1)!.type).toBe('task_finished');
    const messages = all.filter((event) => event.type === 'sdk').map((event) => JSON.stringify(event.data));
    expect(messages.some((message) => message.includes('followed-output'))).toBe(true);
    expect(messages.some((message) => message.includes('"type":"result"'))).toBe(true);

    // A full replay (?after=0, no follow) is the same stream; ?after=N skips what was seen.
    const replay: TaskEventView[] = [];
    await harness.client.readTaskEvents(created.id, { after: 0, follow: false, onEvent: (event) => void replay.push(event) });
    expect(replay.map((event) => [event.seq, event.type])).toEqual(all.map((event) => [event.seq, event.type]));
    const raw = await fetch(new URL(`/v1/tasks/${created.id}/events?after=${all.length - 1}`, harness.baseUrl));
    const rawText = await raw.text();
    expect(rawText).toContain(`id: ${all.length}\nevent: task_finished`);
    expect(rawText).not.toContain(`id: ${all.length - 1}\n`);

    // The stream's final record is the stored one.
    expect(await harness.client.getTask(created.id)).toMatchObject({ status: 'succeeded', result: final.result, costUsd: final.costUsd });
  }, 150_000);
});
