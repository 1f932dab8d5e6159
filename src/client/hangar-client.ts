// A small HTTP client of the Hangar API, used by the CLI (and by users from TypeScript).
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import { SseParser } from './sse-parser.js';

export interface TaskRequest {
  prompt: string;
  allowedTools?: string[];
  maxTurns?: number;
  permissionMode?: string;
  appendSystemPrompt?: string;
  model?: string;
  resources?: { memoryMb?: number; cpus?: number; diskMb?: number };
  files?: Record<string, string>;
}

/** A task as the API returns it. */
export interface TaskView {
  id: string;
  status: 'running' | 'succeeded' | 'failed' | 'interrupted';
  result: string | null;
  error: { code: string; message: string } | null;
  files: Array<{ path: string; change: string; sizeBytes: number; content?: string; encoding?: string }>;
  usage: { inputTokens: number; outputTokens: number; cacheCreationInputTokens: number; cacheReadInputTokens: number };
  costUsd: number;
  numTurns: number | null;
  durationMs: number | null;
  [key: string]: unknown;
}

export class HangarApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HangarApiError';
  }
}

export interface TaskStreamHandlers {
  onTaskCreated?: (id: string) => void;
  onMessage?: (message: SDKMessage) => void;
}

export class HangarClient {
  constructor(readonly baseUrl: string) {}

  private async failure(response: Response): Promise<HangarApiError> {
    const text = await response.text();
    try {
      const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
      return new HangarApiError(response.status, body.error?.code ?? 'UNKNOWN', body.error?.message ?? text);
    } catch {
      return new HangarApiError(response.status, 'UNKNOWN', text || response.statusText);
    }
  }

  /** Runs a task and waits for its final record. */
  async runTask(request: TaskRequest): Promise<TaskView> {
    const response = await fetch(new URL('/v1/tasks', this.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
    });
    if (!response.ok) throw await this.failure(response);
    return (await response.json()) as TaskView;
  }

  /** Runs a task as an SSE stream, calling the handlers live; resolves with the final record. */
  async streamTask(request: TaskRequest, handlers: TaskStreamHandlers): Promise<TaskView> {
    const response = await fetch(new URL('/v1/tasks', this.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ ...request, stream: true }),
    });
    if (!response.ok || response.body === null) throw await this.failure(response);
    const parser = new SseParser();
    let final: TaskView | undefined;
    for await (const chunk of response.body) {
      for (const event of parser.push(chunk)) {
        const data = JSON.parse(event.data) as unknown;
        if (event.event === 'task') handlers.onTaskCreated?.((data as { id: string }).id);
        else if (event.event === 'message') handlers.onMessage?.(data as SDKMessage);
        else if (event.event === 'result') final = data as TaskView;
        else if (event.event === 'error') {
          const { error } = data as { error: { code: string; message: string } };
          throw new HangarApiError(500, error.code, error.message);
        }
      }
    }
    if (final === undefined) throw new HangarApiError(502, 'STREAM_ENDED', 'the task stream ended before the result');
    return final;
  }

  async getTask(id: string): Promise<TaskView> {
    const response = await fetch(new URL(`/v1/tasks/${encodeURIComponent(id)}`, this.baseUrl));
    if (!response.ok) throw await this.failure(response);
    return (await response.json()) as TaskView;
  }
}
