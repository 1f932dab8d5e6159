// The Store port: durable metadata Hangar keeps about its work. Adapters: sqlite (embedded default),
// in-memory (unit tests of code above the port); Postgres slots in as another adapter.
import type { SecretRepository } from './secret-records.js';
import type { ApiKeyRepository, EgressLogRepository } from './access-records.js';
import type { ScheduleRepository } from './schedule-records.js';
import type { SharedSandboxRepository } from './shared-sandbox-records.js';
import type { TenantRepository, TenantUsageRepository } from './tenant-records.js';

export * from './access-records.js';
export * from './schedule-records.js';
export * from './shared-sandbox-records.js';
export * from './tenant-records.js';
export * from './secret-records.js';

/** Token counts of a task or session, as metered by the model gateway. */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
}

/** cancelled: a client cancelled it (POST /v1/tasks/:id/cancel); interrupted: the server stopped it (shutdown, crash, timeout). */
export type TaskStatus = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted';

export interface FileChange {
  /** Path relative to the workspace; bytes that are not valid UTF-8 show as U+FFFD (see pathBase64). */
  path: string;
  /** The path's raw bytes in base64, present only when the name is not valid UTF-8. */
  pathBase64?: string;
  change: 'created' | 'modified' | 'deleted';
  sizeBytes: number;
  /** Bytes the file occupies on disk (st_blocks * 512): far below sizeBytes for a sparse file. */
  allocatedBytes?: number;
  /** File content: utf8 text, or base64 when the file is not valid UTF-8. Absent for deletions and large files. */
  content?: string;
  encoding?: 'utf8' | 'base64';
  /**
   * Why a created or modified file comes without content: over the per-file content limit, over the task's
   * read budget or returned-content limit, or the task's deadline came during collection. Such files are
   * compared by stat identity (size, mtime, ctime, inode) instead of content.
   */
  contentOmitted?: 'too-large' | 'read-budget' | 'returned-limit' | 'deadline';
  /** Reading this file failed (it was swapped for a non-file, vanished...): it is reported without content. */
  error?: string;
}

export interface TaskError {
  code: string;
  message: string;
}

export interface TaskRecord {
  id: string;
  /** The tenant the task belongs to (DEFAULT_TENANT_ID unless a key of another tenant created it). */
  tenantId: string;
  status: TaskStatus;
  prompt: string;
  /** The options the task ran with, after defaults were applied. */
  options: Record<string, unknown>;
  createdAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  result: string | null;
  error: TaskError | null;
  numTurns: number | null;
  /** The Claude Code session id inside the sandbox. */
  agentSessionId: string | null;
  usage: TokenUsage;
  /** Usage per model id, as metered by the gateway. */
  usageByModel: Record<string, TokenUsage>;
  costUsd: number;
  files: FileChange[];
  /** What the sandbox reported: OOM kills, peak memory. */
  sandboxReport: Record<string, unknown> | null;
}

export interface TaskListQuery {
  /** Only this tenant's tasks. */
  tenantId?: string;
  status?: TaskStatus;
  limit: number;
  /** Return tasks created before this id's creation (paging, newest first). */
  before?: string;
}

export interface TaskRepository {
  insert(task: TaskRecord): Promise<void>;
  /** Replaces the stored fields of an existing task; fails with TASK_NOT_FOUND when absent. */
  update(id: string, patch: Partial<Omit<TaskRecord, 'id' | 'createdAt'>>): Promise<TaskRecord>;
  get(id: string): Promise<TaskRecord | undefined>;
  list(query: TaskListQuery): Promise<TaskRecord[]>;
  /** Marks every task still `running` as `interrupted` (the process that ran them is gone). */
  interruptRunning(reason: TaskError): Promise<number>;
}

// ---- Sessions (long-running and hybrid patterns) ----

export type SessionPattern = 'long-running' | 'hybrid';
export type SessionStatus = 'running' | 'idle' | 'hibernated' | 'failed' | 'closed';

/** Where a session can be restored from: the sandbox's user state (workspace and HOME) and a transcript position, taken together at a turn boundary. */
export interface CheckpointRecord {
  id: string;
  sessionId: string;
  /** Number of turns the session had completed when the checkpoint was taken. */
  turn: number;
  /** Key of the compressed tar of the workspace and HOME in the blob store. */
  blobKey: string;
  sizeBytes: number;
  /** The Claude Code session id the transcript belongs to (resume target). */
  agentSessionId: string;
  /** Transcript entries (main transcript) present at the checkpoint. */
  transcriptEntries: number;
  /**
   * What a restore verifies before it unpacks anything; null for a checkpoint recorded before
   * manifests existed (its archive holds the workspace only and is restored unverified).
   */
  manifest: CheckpointManifest | null;
  createdAt: string;
}

/** A checkpoint's manifest: its archive and its transcript position, each with a hash. */
export interface CheckpointManifest {
  /** Archive format: 2 = the workspace and HOME in one zstd tar. */
  format: number;
  archive: { sizeBytes: number; sha256: string };
  /** The main transcript's first `entries` entries, hashed (sha256 of each entry's JSON and a newline). */
  transcript: { projectKey: string | null; agentSessionId: string; entries: number; sha256: string };
  /** Paths under HOME the settings left out of the archive (the CLI's own state is always left out). */
  homeExcludes: string[];
}

export interface SessionRecord {
  id: string;
  /** The tenant the session belongs to; its fork, schedules, checkpoints and events belong to it too. */
  tenantId: string;
  pattern: SessionPattern;
  status: SessionStatus;
  /** Options after defaults: allowedTools, maxTurns, maxBudgetUsd, resources, idleTimeoutSec, model, permissionMode... */
  options: Record<string, unknown>;
  metadata: Record<string, string>;
  /** Shared sandbox the session runs in (pattern 4), or null for its own. */
  sandboxId: string | null;
  /** The Claude Code session id (stable across hibernation; a fork gets a new one). */
  agentSessionId: string | null;
  /** Session this one was forked from, and the checkpoint it started from. */
  forkedFrom: { sessionId: string; checkpointId: string } | null;
  turns: number;
  usage: TokenUsage;
  usageByModel: Record<string, TokenUsage>;
  costUsd: number;
  /** Context tokens of the last turn, and the model's window. */
  contextTokens: number;
  contextWindow: number | null;
  lastCheckpointId: string | null;
  error: TaskError | null;
  createdAt: string;
  updatedAt: string;
  lastActivityAt: string;
}

export interface SessionListQuery {
  /** Only this tenant's sessions. */
  tenantId?: string;
  status?: SessionStatus;
  pattern?: SessionPattern;
  /** Sessions running in this shared sandbox. */
  sandboxId?: string;
  /** Every given key must match exactly. */
  metadata?: Record<string, string>;
  limit: number;
  /** Sessions created before this session (paging, newest first). */
  before?: string;
}

export interface SessionRepository {
  /** Fails with CONFLICT when the id is taken. */
  insert(session: SessionRecord): Promise<void>;
  /** Applies a patch; fails with SESSION_NOT_FOUND when absent. Sets updatedAt to now unless the patch gives it. */
  update(id: string, patch: Partial<Omit<SessionRecord, 'id' | 'createdAt'>>): Promise<SessionRecord>;
  get(id: string): Promise<SessionRecord | undefined>;
  list(query: SessionListQuery): Promise<SessionRecord[]>;
  /** Sessions in any of the given statuses, oldest first (recovery at startup). */
  listByStatus(statuses: SessionStatus[]): Promise<SessionRecord[]>;
  /** How many of the tenant's sessions are not closed (forks included). */
  countOpen(tenantId: string): Promise<number>;
}

/** A prompt queued for a session; turns run one at a time, in seq order. */
export type QueuedMessageStatus = 'queued' | 'running' | 'done' | 'failed' | 'interrupted';

export interface QueuedMessage {
  id: string;
  sessionId: string;
  /** Order within the session (1, 2, ...), assigned by the store. */
  seq: number;
  prompt: string;
  /** 'api', or 'schedule:<scheduleId>'. */
  source: string;
  status: QueuedMessageStatus;
  error: TaskError | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** A message as enqueue stores it: queued, at the sequence number the store assigned. */
export function newQueuedMessage(message: Omit<QueuedMessage, 'seq' | 'status' | 'error' | 'startedAt' | 'finishedAt'>, seq: number): QueuedMessage {
  return {
    id: message.id,
    sessionId: message.sessionId,
    seq,
    prompt: message.prompt,
    source: message.source,
    status: 'queued',
    error: null,
    createdAt: message.createdAt,
    startedAt: null,
    finishedAt: null,
  };
}

export interface MessageQueueRepository {
  /** Appends a queued message; the store assigns seq atomically. */
  enqueue(message: Omit<QueuedMessage, 'seq' | 'status' | 'error' | 'startedAt' | 'finishedAt'>): Promise<QueuedMessage>;
  /** The oldest message still queued, if any. */
  nextQueued(sessionId: string): Promise<QueuedMessage | undefined>;
  /** Applies a patch; fails with NOT_FOUND when absent. */
  update(id: string, patch: Partial<Pick<QueuedMessage, 'status' | 'error' | 'startedAt' | 'finishedAt'>>): Promise<QueuedMessage>;
  get(id: string): Promise<QueuedMessage | undefined>;
  /** The session's messages in seq order, optionally only those in the given statuses. */
  list(sessionId: string, options: { statuses?: QueuedMessageStatus[]; limit: number }): Promise<QueuedMessage[]>;
  /** Marks every `running` message interrupted (the process that ran it is gone); returns them. */
  interruptRunning(reason: TaskError): Promise<QueuedMessage[]>;
}

/** One event of a session's durable stream. */
export interface SessionEvent {
  sessionId: string;
  /** 1, 2, 3... per session, no gaps. */
  seq: number;
  /** 'sdk' (an SDK message), or a lifecycle event: 'status', 'turn_started', 'turn_completed', 'checkpoint', 'woke', 'warning', ... */
  type: string;
  data: unknown;
  createdAt: string;
}

export interface EventLogRepository {
  /** Appends events in order, assigning consecutive sequence numbers atomically. */
  append(sessionId: string, events: Array<{ type: string; data: unknown }>): Promise<SessionEvent[]>;
  /** Events with seq > after, in order, at most limit. */
  read(sessionId: string, options: { after: number; limit: number }): Promise<SessionEvent[]>;
  lastSeq(sessionId: string): Promise<number>;
}

export interface CheckpointRepository {
  /** Fails with CONFLICT when the id is taken. */
  insert(checkpoint: CheckpointRecord): Promise<void>;
  get(id: string): Promise<CheckpointRecord | undefined>;
  /** Newest first, skipping the `offset` newest. */
  list(sessionId: string, limit: number, offset?: number): Promise<CheckpointRecord[]>;
  /** Removes the checkpoint record; a no-op when absent. */
  delete(id: string): Promise<void>;
  /** True when a checkpoint record refers to this blob key. */
  hasBlobKey(blobKey: string): Promise<boolean>;
  /** Distinct ids of the sessions that have checkpoints, sorted, those after `after` (paging). */
  sessionIds(options: { limit: number; after?: string }): Promise<string[]>;
}

/** Identifies one transcript: the Agent SDK's SessionKey. */
export interface TranscriptKey {
  projectKey: string;
  sessionId: string;
  /** Absent for the main transcript; set for subagent transcripts. */
  subpath?: string;
}

/** One JSONL transcript line as the SDK hands it over (opaque JSON with a type, mostly a uuid). */
export interface TranscriptEntry {
  type: string;
  uuid?: string;
  timestamp?: string;
  [key: string]: unknown;
}

export interface TranscriptRepository {
  /**
   * Appends in call order; an entry whose uuid is already stored under the key (or earlier in the same
   * batch) is skipped, entries without a uuid are always appended. Any call, even with no entries,
   * marks the key as written and sets its mtime.
   */
  append(key: TranscriptKey, entries: TranscriptEntry[]): Promise<void>;
  /** Entries in append order (the first `limit` when given); null when the key was never written. */
  load(key: TranscriptKey, options?: { limit?: number }): Promise<TranscriptEntry[] | null>;
  /** Number of entries stored under the key. */
  count(key: TranscriptKey): Promise<number>;
  /** Sessions with a main transcript under the project, with their last write time (epoch ms). */
  listSessions(projectKey: string): Promise<Array<{ sessionId: string; mtime: number }>>;
  /** Subpaths of the session's subagent transcripts, sorted. */
  listSubkeys(key: { projectKey: string; sessionId: string }): Promise<string[]>;
  /** Deletes the key; deleting a main transcript deletes its subagent transcripts too. */
  delete(key: TranscriptKey): Promise<void>;
}

export interface Store {
  readonly tasks: TaskRepository;
  readonly sessions: SessionRepository;
  readonly messages: MessageQueueRepository;
  readonly events: EventLogRepository;
  readonly checkpoints: CheckpointRepository;
  readonly transcripts: TranscriptRepository;
  readonly schedules: ScheduleRepository;
  readonly sharedSandboxes: SharedSandboxRepository;
  readonly egress: EgressLogRepository;
  readonly apiKeys: ApiKeyRepository;
  /** Secrets declared with values, sealed (secret-records.ts). */
  readonly secrets: SecretRepository;
  readonly tenants: TenantRepository;
  readonly tenantUsage: TenantUsageRepository;
  close(): Promise<void>;
}

export const ZERO_USAGE: TokenUsage = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  cacheCreationInputTokens: 0,
  cacheReadInputTokens: 0,
});

export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheCreationInputTokens: a.cacheCreationInputTokens + b.cacheCreationInputTokens,
    cacheReadInputTokens: a.cacheReadInputTokens + b.cacheReadInputTokens,
  };
}

/** A task as it is recorded when it starts: running, nothing measured yet. */
export function newTaskRecord(task: Pick<TaskRecord, 'id' | 'tenantId' | 'prompt' | 'options' | 'createdAt'>): TaskRecord {
  return {
    id: task.id,
    tenantId: task.tenantId,
    status: 'running',
    prompt: task.prompt,
    options: task.options,
    createdAt: task.createdAt,
    finishedAt: null,
    durationMs: null,
    result: null,
    error: null,
    numTurns: null,
    agentSessionId: null,
    usage: { ...ZERO_USAGE },
    usageByModel: {},
    costUsd: 0,
    files: [],
    sandboxReport: null,
  };
}

/** A session as it is recorded when it is created: idle, no turn, no spend, no checkpoint yet. */
export function newSessionRecord(
  session: Pick<SessionRecord, 'id' | 'tenantId' | 'pattern' | 'options' | 'metadata' | 'sandboxId' | 'createdAt'>,
): SessionRecord {
  return {
    id: session.id,
    tenantId: session.tenantId,
    pattern: session.pattern,
    status: 'idle',
    options: session.options,
    metadata: session.metadata,
    sandboxId: session.sandboxId,
    agentSessionId: null,
    forkedFrom: null,
    turns: 0,
    usage: { ...ZERO_USAGE },
    usageByModel: {},
    costUsd: 0,
    contextTokens: 0,
    contextWindow: null,
    lastCheckpointId: null,
    error: null,
    createdAt: session.createdAt,
    updatedAt: session.createdAt,
    lastActivityAt: session.createdAt,
  };
}
