// The Store port: durable metadata Hangar keeps about its work. Adapters: sqlite (embedded default),
// in-memory (unit tests of code above the port); Postgres slots in as another adapter.

/** Token counts of a task or session, as metered by the model gateway. */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
}

export type TaskStatus = 'running' | 'succeeded' | 'failed' | 'interrupted';

export interface FileChange {
  path: string;
  change: 'created' | 'modified' | 'deleted';
  sizeBytes: number;
  /** File content: utf8 text, or base64 when the file is not valid UTF-8. Absent for deletions and large files. */
  content?: string;
  encoding?: 'utf8' | 'base64';
}

export interface TaskError {
  code: string;
  message: string;
}

export interface TaskRecord {
  id: string;
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

export interface Store {
  readonly tasks: TaskRepository;
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
