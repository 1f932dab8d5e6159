// The durable event stream of a task: the same event log and hub as sessions', keyed by the task id
// (ids never collide: `task_...` and `sess_...`). A task emits, in order:
//   task_created  { task }                the record as first stored (status running)
//   task_started  { sandboxId }           its sandbox is ready; the agent starts
//   sdk           SDKMessage              every message of the agent, live
//   task_stopping { reason }              cancel, shutdown or timeout asked it to stop
//   task_finished { task }                the final record; nothing follows it
// A follower replays from any sequence number and ends after task_finished.
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import type { Logger } from 'pino';
import type { TaskRecord } from '../store/store.js';
import type { EventHub } from '../sessions/event-hub.js';
import { presentTask } from './task-view.js';

export const TASK_EVENT = {
  created: 'task_created',
  started: 'task_started',
  message: 'sdk',
  stopping: 'task_stopping',
  finished: 'task_finished',
} as const;

/** Why a running task was asked to stop: a client cancelled it, the server shut down, or its timeout passed. */
export type TaskStopReason = 'cancelled' | 'shutdown' | 'timeout';

export interface TaskEventWriter {
  created(task: TaskRecord): void;
  started(sandboxId: string): void;
  message(message: SDKMessage): void;
  stopping(reason: TaskStopReason): void;
  /** Stores the final record as the last event; resolves once it and every earlier event are stored. */
  finished(task: TaskRecord): Promise<void>;
}

/**
 * Writes one task's events in call order. A failed write is logged and never fails the task (its
 * record stays the source of truth); the writer without a hub writes nothing.
 */
export function taskEventWriter(hub: EventHub | undefined, taskId: string, logger: Logger): TaskEventWriter {
  let tail: Promise<void> = Promise.resolve();
  const write = (type: string, data: unknown): Promise<void> => {
    if (hub === undefined) return tail;
    tail = tail.then(() =>
      hub.publish(taskId, [{ type, data }]).then(
        () => undefined,
        (error: unknown) => logger.warn({ err: error, taskId, type }, 'task event not stored'),
      ),
    );
    return tail;
  };
  return {
    created: (task) => void write(TASK_EVENT.created, { task: presentTask(task) }),
    started: (sandboxId) => void write(TASK_EVENT.started, { sandboxId }),
    message: (message) => void write(TASK_EVENT.message, message),
    stopping: (reason) => void write(TASK_EVENT.stopping, { reason }),
    finished: (task) => write(TASK_EVENT.finished, { task: presentTask(task) }),
  };
}
