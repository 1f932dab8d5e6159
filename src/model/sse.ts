// Builds Anthropic Messages API responses from scripted content: the JSON Message, the SSE event
// sequence of a streamed message, ids in the API's shape, and error bodies.
import { randomBytes } from 'node:crypto';
import type { ScenarioContentBlock, StopReason } from './scenario.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** An id in the API's shape: prefix, `01`, then 22 base62 characters (msg_01..., toolu_01...). */
export function newId(prefix: 'msg' | 'toolu' | 'req'): string {
  const bytes = randomBytes(22);
  let tail = '';
  for (const byte of bytes) tail += BASE62[byte % 62];
  return `${prefix}_01${tail}`;
}

export interface MessageUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export type MessageContentBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'thinking'; thinking: string; signature: string };

export interface AnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: MessageContentBlock[];
  stop_reason: StopReason;
  stop_sequence: string | null;
  usage: MessageUsage;
}

export interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Turns scripted blocks into API content blocks, giving tool_use and thinking blocks ids and signatures. */
export function toMessageContent(blocks: ScenarioContentBlock[]): MessageContentBlock[] {
  return blocks.map((block): MessageContentBlock => {
    switch (block.type) {
      case 'text':
        return { type: 'text', text: block.text };
      case 'tool_use':
        return { type: 'tool_use', id: block.id ?? newId('toolu'), name: block.name, input: block.input };
      case 'thinking':
        return { type: 'thinking', thinking: block.thinking, signature: randomBytes(48).toString('base64') };
    }
  });
}

/** Output token estimate: characters of text, thinking and tool calls (as JSON) divided by 4. */
export function estimateOutputTokens(content: MessageContentBlock[]): number {
  let chars = 0;
  for (const block of content) {
    if (block.type === 'text') chars += block.text.length;
    else if (block.type === 'thinking') chars += block.thinking.length;
    else chars += block.name.length + JSON.stringify(block.input).length;
  }
  return Math.max(1, Math.ceil(chars / 4));
}

/** Splits a string into at most `parts` pieces of near-equal length, never inside a code point. */
export function splitChunks(text: string, parts: number): string[] {
  const points = Array.from(text);
  if (points.length === 0) return [''];
  const size = Math.ceil(points.length / Math.max(1, parts));
  const chunks: string[] = [];
  for (let i = 0; i < points.length; i += size) chunks.push(points.slice(i, i + size).join(''));
  return chunks;
}

/** How many deltas a text, thinking or tool-input block is streamed in. */
const DELTA_PARTS = 3;

/**
 * The SSE events of a streamed message, in the API's order: message_start, ping, then for each block
 * content_block_start / content_block_delta... / content_block_stop, then message_delta and
 * message_stop. Text and tool input arrive in a few deltas each.
 */
export function messageEvents(message: AnthropicMessage): SseEvent[] {
  const events: SseEvent[] = [];
  events.push({
    event: 'message_start',
    data: {
      type: 'message_start',
      message: {
        ...message,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...message.usage, output_tokens: 1 },
      },
    },
  });
  events.push({ event: 'ping', data: { type: 'ping' } });
  message.content.forEach((block, index) => {
    const delta = (payload: Record<string, unknown>): SseEvent => ({
      event: 'content_block_delta',
      data: { type: 'content_block_delta', index, delta: payload },
    });
    switch (block.type) {
      case 'text':
        events.push({
          event: 'content_block_start',
          data: { type: 'content_block_start', index, content_block: { type: 'text', text: '' } },
        });
        for (const text of splitChunks(block.text, DELTA_PARTS)) events.push(delta({ type: 'text_delta', text }));
        break;
      case 'thinking':
        events.push({
          event: 'content_block_start',
          data: {
            type: 'content_block_start',
            index,
            content_block: { type: 'thinking', thinking: '', signature: '' },
          },
        });
        for (const thinking of splitChunks(block.thinking, DELTA_PARTS)) {
          events.push(delta({ type: 'thinking_delta', thinking }));
        }
        events.push(delta({ type: 'signature_delta', signature: block.signature }));
        break;
      case 'tool_use':
        events.push({
          event: 'content_block_start',
          data: {
            type: 'content_block_start',
            index,
            content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
          },
        });
        for (const partial of splitChunks(JSON.stringify(block.input), DELTA_PARTS)) {
          events.push(delta({ type: 'input_json_delta', partial_json: partial }));
        }
        break;
    }
    events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } });
  });
  events.push({
    event: 'message_delta',
    data: {
      type: 'message_delta',
      delta: { stop_reason: message.stop_reason, stop_sequence: message.stop_sequence },
      usage: message.usage,
    },
  });
  events.push({ event: 'message_stop', data: { type: 'message_stop' } });
  return events;
}

/** One event in SSE wire form. */
export function formatSseEvent(event: SseEvent): string {
  return `event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

/** error.type the Anthropic API uses for an HTTP status. */
export function errorTypeForStatus(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 504:
      return 'timeout_error';
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
  request_id?: string;
}

export function errorBody(type: string, message: string, requestId?: string): AnthropicErrorBody {
  const body: AnthropicErrorBody = { type: 'error', error: { type, message } };
  if (requestId !== undefined) body.request_id = requestId;
  return body;
}
