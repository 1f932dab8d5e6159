// Reads token usage out of Anthropic Messages API responses as they stream past: SSE events
// (message_start carries input and cache tokens, message_delta the running output count) or, for
// non-streaming calls, the JSON Message's `usage` field.
import type { TokenUsage } from '../store/store.js';

export interface MeteredCall {
  model: string;
  usage: TokenUsage;
}

interface RawUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

function mergeRawUsage(target: TokenUsage, raw: RawUsage | undefined): void {
  if (raw === undefined || raw === null) return;
  // message_delta repeats counts cumulatively, so the largest value seen is the call's figure.
  if (typeof raw.input_tokens === 'number') target.inputTokens = Math.max(target.inputTokens, raw.input_tokens);
  if (typeof raw.output_tokens === 'number') target.outputTokens = Math.max(target.outputTokens, raw.output_tokens);
  if (typeof raw.cache_creation_input_tokens === 'number') {
    target.cacheCreationInputTokens = Math.max(target.cacheCreationInputTokens, raw.cache_creation_input_tokens);
  }
  if (typeof raw.cache_read_input_tokens === 'number') {
    target.cacheReadInputTokens = Math.max(target.cacheReadInputTokens, raw.cache_read_input_tokens);
  }
}

/** Incremental SSE parser that accumulates the usage of one streamed Messages API call. */
export class StreamUsageMeter {
  private buffer = '';
  private readonly decoder = new TextDecoder();
  private model: string;
  private readonly usage: TokenUsage = { inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 };
  private sawMessage = false;

  constructor(requestedModel: string) {
    this.model = requestedModel;
  }

  /** Feeds raw response bytes; events split across chunks are reassembled. */
  push(chunk: Uint8Array): void {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    const separator = /\r?\n\r?\n/;
    let match = separator.exec(this.buffer);
    while (match !== null) {
      const rawEvent = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      this.handleEvent(rawEvent);
      match = separator.exec(this.buffer);
    }
  }

  private handleEvent(rawEvent: string): void {
    const data = rawEvent
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trimStart())
      .join('\n');
    if (data === '') return;
    let event: { type?: string; message?: { model?: string; usage?: RawUsage }; usage?: RawUsage };
    try {
      event = JSON.parse(data) as typeof event;
    } catch {
      return;
    }
    if (event.type === 'message_start' && event.message !== undefined) {
      this.sawMessage = true;
      if (typeof event.message.model === 'string') this.model = event.message.model;
      mergeRawUsage(this.usage, event.message.usage);
    } else if (event.type === 'message_delta') {
      mergeRawUsage(this.usage, event.usage);
    }
  }

  /** The call's usage, or undefined when no message started (an error response). */
  result(): MeteredCall | undefined {
    return this.sawMessage ? { model: this.model, usage: { ...this.usage } } : undefined;
  }
}

/** Usage of a non-streaming Messages API response body. */
export function usageFromMessageJson(body: string, requestedModel: string): MeteredCall | undefined {
  let parsed: { type?: string; model?: string; usage?: RawUsage };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    return undefined;
  }
  if (parsed.type !== 'message' || parsed.usage === undefined) return undefined;
  const usage: TokenUsage = { inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 };
  mergeRawUsage(usage, parsed.usage);
  return { model: typeof parsed.model === 'string' ? parsed.model : requestedModel, usage };
}
