// The public view of a task: what the API answers and what task events carry.
import type { TaskRecord, TaskStatus } from '../store/store.js';

export const TASK_STATUSES = ['running', 'succeeded', 'failed', 'cancelled', 'interrupted'] as const satisfies readonly TaskStatus[];

export function presentTask(task: TaskRecord) {
  return {
    id: task.id,
    tenantId: task.tenantId,
    status: task.status,
    prompt: task.prompt,
    options: task.options,
    result: task.result,
    error: task.error,
    files: task.files,
    usage: task.usage,
    usageByModel: task.usageByModel,
    costUsd: task.costUsd,
    numTurns: task.numTurns,
    durationMs: task.durationMs,
    createdAt: task.createdAt,
    finishedAt: task.finishedAt,
    agentSessionId: task.agentSessionId,
    sandbox: task.sandboxReport,
  };
}
