// What the API answers, as zod schemas: the response schemas of the routes (they document the
// OpenAPI document and serialize every answer: a field missing here is dropped from the answer) and,
// through z.infer, the client's types. Each `meta({ id })` names a component of the OpenAPI document.
import { z } from 'zod';
import { ERROR_HTTP_STATUS, type ErrorCode } from '../errors/errors.js';
import { presentTask, TASK_STATUSES } from '../tasks/task-view.js';
import type { CheckpointRecord, QueuedMessageStatus, SessionPattern, SessionRecord, SessionStatus, TaskRecord } from '../store/store.js';

const timestamp = z.string().describe('ISO 8601 time');
const nullableTimestamp = timestamp.nullable();

/** Free-form options as recorded, after defaults (allowedTools, maxTurns, resources, model...). */
const recordedOptions = z.record(z.string(), z.unknown());

export const errorCodeSchema = z.enum(Object.keys(ERROR_HTTP_STATUS) as [ErrorCode, ...ErrorCode[]]);

/** Every error answer: { error: { code, message, details? } }. */
export const errorSchema = z
  .object({
    error: z.object({
      code: errorCodeSchema,
      message: z.string(),
      details: z.unknown().optional().describe('What exactly was wrong; for VALIDATION_FAILED a list of { in, path, message }'),
    }),
  })
  .meta({ id: 'Error' });

/** Why a task or a message failed (codes beyond the registry too: INTERRUPTED, CANCELLED...). */
const outcomeErrorSchema = z.object({ code: z.string(), message: z.string() }).nullable();

export const tokenUsageSchema = z
  .object({
    inputTokens: z.number(),
    outputTokens: z.number(),
    cacheCreationInputTokens: z.number(),
    cacheReadInputTokens: z.number(),
  })
  .meta({ id: 'TokenUsage' });

const usageByModelSchema = z.record(z.string(), tokenUsageSchema).describe('Usage per model id, as metered by the gateway');

export const fileChangeSchema = z
  .object({
    path: z.string().describe('Relative to the workspace; bytes that are not valid UTF-8 show as U+FFFD (see pathBase64)'),
    pathBase64: z.string().optional().describe('The raw bytes of a name that is not valid UTF-8'),
    change: z.enum(['created', 'modified', 'deleted']),
    sizeBytes: z.number(),
    allocatedBytes: z.number().optional().describe('Bytes on disk (far below sizeBytes for a sparse file)'),
    content: z.string().optional().describe('utf8 text, or base64 (see encoding); absent for deletions and omitted content'),
    encoding: z.enum(['utf8', 'base64']).optional(),
    contentOmitted: z
      .enum(['too-large', 'read-budget', 'returned-limit', 'deadline'])
      .optional()
      .describe('Why a created or modified file comes without content'),
    error: z.string().optional().describe('Reading this file failed: it is reported without content'),
  })
  .meta({ id: 'FileChange' });

const fileCollectionSchema = z.object({
  filesSeen: z.number(),
  truncated: z.boolean().describe('The scan stopped at its entry cap: the list is partial'),
  aborted: z.boolean().describe('The deadline came during collection'),
  bytesRead: z.number(),
  error: z.string().optional(),
});

/** What the sandbox reported once the task finished; other keys a report carries pass through. */
export const taskSandboxReportSchema = z.looseObject({
  sandboxId: z.string(),
  oomKills: z.number(),
  memoryPeakBytes: z.number().nullable(),
  modelRequests: z.number(),
  failedModelRequests: z.number(),
  fileCollection: fileCollectionSchema.optional().describe('How collecting the changed files went'),
});
export type TaskSandboxReport = z.infer<typeof taskSandboxReportSchema>;

const tenantIdView = z.string().describe('The tenant it belongs to');

export const taskViewSchema = z
  .object({
    id: z.string(),
    tenantId: tenantIdView,
    status: z.enum(TASK_STATUSES).describe('cancelled: a client cancelled it; interrupted: the server stopped it (shutdown, crash, timeout)'),
    prompt: z.string(),
    options: recordedOptions,
    result: z.string().nullable(),
    error: outcomeErrorSchema,
    files: z.array(fileChangeSchema).describe('Workspace files the task created, modified or deleted'),
    usage: tokenUsageSchema,
    usageByModel: usageByModelSchema,
    costUsd: z.number(),
    numTurns: z.number().nullable(),
    durationMs: z.number().nullable(),
    createdAt: timestamp,
    finishedAt: nullableTimestamp,
    agentSessionId: z.string().nullable().describe('The Claude Code session id inside the sandbox'),
    sandbox: taskSandboxReportSchema.nullable().describe('null while running or when the task never had a sandbox'),
  })
  .meta({ id: 'Task' });

export const taskListSchema = z.object({
  tasks: z.array(taskViewSchema),
  nextBefore: z.string().nullable().describe('Pass as ?before= for the next page; null on the last one'),
});

export const SESSION_PATTERNS = ['long-running', 'hybrid'] as const satisfies readonly SessionPattern[];
export const SESSION_STATUSES = ['running', 'idle', 'hibernated', 'failed', 'closed'] as const satisfies readonly SessionStatus[];

export const sessionViewSchema = z
  .object({
    id: z.string(),
    tenantId: tenantIdView,
    pattern: z.enum(SESSION_PATTERNS),
    status: z.enum(SESSION_STATUSES),
    options: recordedOptions,
    metadata: z.record(z.string(), z.string()),
    sandboxId: z.string().nullable().describe('The shared sandbox it runs in, or null for its own'),
    agentSessionId: z.string().nullable(),
    forkedFrom: z.object({ sessionId: z.string(), checkpointId: z.string() }).nullable(),
    turns: z.number(),
    usage: tokenUsageSchema,
    usageByModel: usageByModelSchema,
    costUsd: z.number(),
    context: z
      .object({ tokens: z.number(), window: z.number().nullable(), ratio: z.number().nullable() })
      .describe('Context tokens of the last turn, the model window, their ratio'),
    checkpoint: z
      .object({
        id: z.string(),
        turn: z.number().optional(),
        sizeBytes: z.number().optional(),
        transcriptEntries: z.number().optional(),
        createdAt: timestamp.optional(),
      })
      .nullable()
      .describe('The last checkpoint (in full on GET /v1/sessions/{id}, its id elsewhere)'),
    error: outcomeErrorSchema,
    createdAt: timestamp,
    updatedAt: timestamp,
    lastActivityAt: timestamp,
  })
  .meta({ id: 'Session' });

export const sessionListSchema = z.object({
  sessions: z.array(sessionViewSchema),
  nextBefore: z.string().nullable().describe('Pass as ?before= for the next page; null on the last one'),
});

export const sessionMessageViewSchema = z
  .object({
    id: z.string(),
    sessionId: z.string(),
    seq: z.number().describe('Order within the session: turns run one at a time, in seq order'),
    prompt: z.string(),
    source: z.string().describe("'api', or 'schedule:<scheduleId>'"),
    status: z.enum(['queued', 'running', 'done', 'failed', 'interrupted'] as const satisfies readonly QueuedMessageStatus[]),
    error: outcomeErrorSchema,
    createdAt: timestamp,
    startedAt: nullableTimestamp,
    finishedAt: nullableTimestamp,
  })
  .meta({ id: 'SessionMessage' });

export const checkpointViewSchema = z
  .object({
    id: z.string(),
    sessionId: z.string(),
    turn: z.number().describe('Turns the session had completed when it was taken'),
    sizeBytes: z.number(),
    agentSessionId: z.string(),
    transcriptEntries: z.number(),
    manifest: z
      .object({
        format: z.number(),
        archive: z.object({ sizeBytes: z.number(), sha256: z.string() }),
        transcript: z.object({ projectKey: z.string().nullable(), agentSessionId: z.string(), entries: z.number(), sha256: z.string() }),
        homeExcludes: z.array(z.string()),
      })
      .nullable()
      .describe('What a restore verifies; null for a checkpoint recorded before manifests existed'),
    createdAt: timestamp,
  })
  .meta({ id: 'Checkpoint' });

export const scheduleViewSchema = z
  .object({
    id: z.string(),
    sessionId: z.string(),
    every: z.string().nullable().describe('Interval like 30s, 5m, 2h; null when cron is used'),
    cron: z.string().nullable().describe('Five-field cron expression; null when every is used'),
    prompt: z.string(),
    enabled: z.boolean(),
    nextRunAt: timestamp,
    lastRunAt: nullableTimestamp,
    createdAt: timestamp,
  })
  .meta({ id: 'Schedule' });

export const sandboxViewSchema = z
  .object({
    id: z.string(),
    tenantId: tenantIdView,
    status: z.enum(['active', 'closed']),
    resources: z.record(z.string(), z.unknown()).describe('Its limits: memoryMb, cpus, diskMb, pids'),
    createdAt: timestamp,
    closedAt: nullableTimestamp,
    sessions: z.array(z.string()).optional().describe('Ids of the sessions in it (absent from the answer of DELETE)'),
  })
  .meta({ id: 'SharedSandbox' });

/** One event of a durable stream, as each SSE `data:` line carries it (its seq is also the SSE id). */
export const eventViewSchema = z
  .object({
    seq: z.number().describe('1, 2, 3... per stream, no gaps; send the last one seen as Last-Event-ID to resume'),
    type: z.string(),
    createdAt: timestamp,
    data: z.unknown(),
  })
  .meta({ id: 'Event' });

export const interruptAnswerSchema = z.object({ interrupted: z.boolean().describe('false when no turn was running') });

export const healthSchema = z.object({ status: z.literal('ok') });
export const readinessSchema = z.object({ status: z.literal('ready'), runningTasks: z.number(), liveSessions: z.number() });

export type TaskView = z.infer<typeof taskViewSchema>;
export type TaskListView = z.infer<typeof taskListSchema>;
export type SessionView = z.infer<typeof sessionViewSchema>;
export type SessionListView = z.infer<typeof sessionListSchema>;
export type SessionMessageView = z.infer<typeof sessionMessageViewSchema>;
export type CheckpointView = z.infer<typeof checkpointViewSchema>;
export type ScheduleView = z.infer<typeof scheduleViewSchema>;
export type SandboxView = z.infer<typeof sandboxViewSchema>;
export type EventView = z.infer<typeof eventViewSchema>;
export type InterruptAnswer = z.infer<typeof interruptAnswerSchema>;

/** The task view presentTask builds (task events carry it too), with its sandbox report typed as the schema reads it. */
export function presentTaskView(task: TaskRecord): TaskView {
  const view = presentTask(task);
  return { ...view, sandbox: view.sandbox as TaskSandboxReport | null };
}

/** The public view of a session; the checkpoint in full when it is given, else its id. */
export function presentSession(session: SessionRecord, checkpoint?: CheckpointRecord): SessionView {
  return {
    id: session.id,
    tenantId: session.tenantId,
    pattern: session.pattern,
    status: session.status,
    options: session.options,
    metadata: session.metadata,
    sandboxId: session.sandboxId,
    agentSessionId: session.agentSessionId,
    forkedFrom: session.forkedFrom,
    turns: session.turns,
    usage: session.usage,
    usageByModel: session.usageByModel,
    costUsd: session.costUsd,
    context: {
      tokens: session.contextTokens,
      window: session.contextWindow,
      ratio: session.contextWindow ? session.contextTokens / session.contextWindow : null,
    },
    checkpoint:
      session.lastCheckpointId === null
        ? null
        : checkpoint === undefined
          ? { id: session.lastCheckpointId }
          : {
              id: checkpoint.id,
              turn: checkpoint.turn,
              sizeBytes: checkpoint.sizeBytes,
              transcriptEntries: checkpoint.transcriptEntries,
              createdAt: checkpoint.createdAt,
            },
    error: session.error,
    createdAt: session.createdAt,
    updatedAt: session.updatedAt,
    lastActivityAt: session.lastActivityAt,
  };
}

/** A checkpoint without its blob key (where the archive is stored is the server's business). */
export function presentCheckpoint(checkpoint: CheckpointRecord): CheckpointView {
  const { blobKey: _blobKey, ...view } = checkpoint;
  return view;
}
