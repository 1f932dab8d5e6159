// The bounded drain of running tasks at shutdown: every task is asked to stop at once, then the
// drain waits for them at most drainMs. What it waits for and what it cut are logged; a task still
// stopping at the deadline is handed to `cut` (which records it) and left to the sandbox provider's
// close(), which destroys every sandbox it still holds.
import type { Logger } from 'pino';
import { systemClock, type Clock, type TimerHandle } from '../sessions/clock.js';
import type { TaskStopReason } from './task-events.js';

export interface DrainableTask {
  done: Promise<unknown>;
  stop(reason: TaskStopReason): void;
}

export interface DrainOptions<T extends DrainableTask> {
  drainMs: number;
  logger: Logger;
  /** Called for each task the deadline cut; its failures are logged. */
  cut(id: string, task: T): Promise<void>;
  /** The deadline's clock (default: the system clock). */
  clock?: Clock;
}

/** Resolves with the ids of the tasks that did not stop within drainMs (empty when all did). */
export async function drainTasks<T extends DrainableTask>(running: ReadonlyMap<string, T>, options: DrainOptions<T>): Promise<string[]> {
  const { drainMs, logger } = options;
  const clock = options.clock ?? systemClock;
  const tasks = [...running.entries()];
  const byId = new Map(tasks);
  if (tasks.length === 0) return [];
  const ids = tasks.map(([id]) => id);
  logger.warn(
    { tasks: ids, drainMs },
    `shutdown: interrupting ${ids.length} running task(s); waiting up to ${drainMs} ms for their processes to end and sandboxes to go`,
  );
  const started = clock.now();
  const stopped = new Set<string>();
  for (const [, task] of tasks) task.stop('shutdown');
  const all = Promise.allSettled(tasks.map(([id, task]) => task.done.finally(() => stopped.add(id))));
  let timer: TimerHandle | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = clock.setTimeout(resolve, drainMs, { keepAlive: true });
  });
  await Promise.race([all, deadline]);
  clock.clearTimeout(timer);
  const cut = ids.filter((id) => !stopped.has(id));
  if (cut.length === 0) {
    logger.info({ tasks: ids, elapsedMs: clock.now() - started }, 'shutdown: every running task stopped');
    return [];
  }
  logger.warn(
    { cut, stopped: [...stopped], drainMs },
    `shutdown: ${cut.length} task(s) still stopping after server.shutdownDrainMs; recorded interrupted, their sandboxes are destroyed with the provider`,
  );
  await Promise.all(
    cut.map((id) =>
      options.cut(id, byId.get(id)!).catch((error: unknown) => logger.error({ err: error, taskId: id }, 'shutdown: recording a cut task failed')),
    ),
  );
  return cut;
}
