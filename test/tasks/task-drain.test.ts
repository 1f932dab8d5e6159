// The shutdown drain of running tasks (task-drain.ts), on fakes: every task is asked to stop with the
// reason `shutdown`; those that stop are waited for, one that never stops is cut at the deadline,
// handed to `cut` and named in the log.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { drainTasks, type DrainableTask } from '../../src/tasks/task-drain.js';
import type { TaskStopReason } from '../../src/tasks/task-events.js';

interface FakeTask extends DrainableTask {
  reasons: TaskStopReason[];
}

/** A task that ends when stopped (after a tick), or never. */
function fakeTask(stops: boolean): FakeTask {
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const task: FakeTask = {
    reasons: [],
    done,
    stop(reason) {
      task.reasons.push(reason);
      if (stops) setImmediate(finish);
    },
  };
  return task;
}

function capturingLogger(): { logger: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  return { logger, lines: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('drainTasks', () => {
  it('does nothing without running tasks', async () => {
    const { logger, lines } = capturingLogger();
    expect(await drainTasks(new Map<string, FakeTask>(), { drainMs: 10, logger, cut: async () => undefined })).toEqual([]);
    expect(lines()).toEqual([]);
  });

  it('stops every task with the reason shutdown and waits for them', async () => {
    const { logger, lines } = capturingLogger();
    const running = new Map([
      ['task_a', fakeTask(true)],
      ['task_b', fakeTask(true)],
    ]);
    const cut: string[] = [];
    expect(await drainTasks(running, { drainMs: 60_000, logger, cut: async (id) => void cut.push(id) })).toEqual([]);
    expect(cut).toEqual([]);
    for (const task of running.values()) expect(task.reasons).toEqual(['shutdown']);
    const messages = lines().map((line) => line.msg as string);
    expect(messages[0]).toMatch(/interrupting 2 running task/);
    expect(lines()[0]!.tasks).toEqual(['task_a', 'task_b']);
    expect(messages.at(-1)).toMatch(/every running task stopped/);
  });

  it('cuts a task still stopping at the deadline, records it through `cut` and logs it', async () => {
    const { logger, lines } = capturingLogger();
    const running = new Map([
      ['task_quick', fakeTask(true)],
      ['task_stuck', fakeTask(false)],
    ]);
    const cut: string[] = [];
    expect(await drainTasks(running, { drainMs: 50, logger, cut: async (id) => void cut.push(id) })).toEqual(['task_stuck']);
    expect(cut).toEqual(['task_stuck']);
    const warning = lines().find((line) => Array.isArray(line.cut));
    expect(warning).toMatchObject({ cut: ['task_stuck'], stopped: ['task_quick'], drainMs: 50 });
  });

  it('logs a failing `cut` and still resolves', async () => {
    const { logger, lines } = capturingLogger();
    const running = new Map([['task_stuck', fakeTask(false)]]);
    const result = await drainTasks(running, {
      drainMs: 10,
      logger,
      cut: async () => {
        throw new Error('store closed');
      },
    });
    expect(result).toEqual(['task_stuck']);
    expect(lines().some((line) => line.msg === 'shutdown: recording a cut task failed')).toBe(true);
  });
});
