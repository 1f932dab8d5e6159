// Reads an Anthropic Messages API request body: validation as the API does it, the texts a scenario
// matches against, a token estimate, and whether the request is the agent loop or a side request.
import { z } from 'zod';
import type { RequestKind } from './scenario.js';

const contentBlockSchema = z.looseObject({ type: z.string() });

/** The fields the server relies on; everything else in the body is accepted and ignored. */
export const messagesRequestSchema = z.looseObject({
  model: z.string().min(1),
  max_tokens: z.number().int().min(1),
  messages: z.array(
    z.looseObject({
      role: z.string(),
      content: z.union([z.string(), z.array(contentBlockSchema)]),
    }),
  ),
  system: z.union([z.string(), z.array(contentBlockSchema)]).optional(),
  tools: z.array(z.looseObject({})).optional(),
  stream: z.boolean().optional(),
  output_config: z.looseObject({ format: z.looseObject({ type: z.string() }).optional() }).optional(),
});

/** count_tokens takes the same body without max_tokens. */
export const countTokensRequestSchema = messagesRequestSchema.omit({ max_tokens: true, stream: true });

export type MessagesRequest = z.infer<typeof messagesRequestSchema>;
export type CountTokensRequest = z.infer<typeof countTokensRequestSchema>;
type RequestMessage = MessagesRequest['messages'][number];

/** Formats a validation failure the way the Anthropic API words it, e.g. `max_tokens: Field required`. */
export function describeRequestError(error: z.ZodError): string {
  const first = error.issues[0];
  if (first === undefined) return 'invalid request';
  const path = first.path.map(String).join('.');
  const missing = first.code === 'invalid_type' && first.message.includes('received undefined');
  const message = missing ? 'Field required' : first.message;
  return path === '' ? message : `${path}: ${message}`;
}

function blockText(block: Record<string, unknown>): string | undefined {
  return block['type'] === 'text' && typeof block['text'] === 'string' ? block['text'] : undefined;
}

/** Text of a system prompt given as a string or as text blocks, blocks joined by newlines. */
export function systemText(system: MessagesRequest['system']): string {
  if (system === undefined) return '';
  if (typeof system === 'string') return system;
  return system
    .map(blockText)
    .filter((text): text is string => text !== undefined)
    .join('\n');
}

function lastUserMessage(messages: RequestMessage[]): RequestMessage | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i];
    if (message?.role === 'user') return message;
  }
  return undefined;
}

const systemReminder = /^\s*<system-reminder>[\s\S]*<\/system-reminder>\s*$/;

/**
 * Text of the last user message: its text blocks joined by newlines, leaving out tool results and
 * blocks that are wholly a `<system-reminder>` the CLI injects.
 */
export function lastUserText(messages: RequestMessage[]): string {
  const message = lastUserMessage(messages);
  if (message === undefined) return '';
  if (typeof message.content === 'string') return message.content;
  return message.content
    .map(blockText)
    .filter((text): text is string => text !== undefined && !systemReminder.test(text))
    .join('\n');
}

/** Text of the last tool_result block of the last user message, or undefined when it has none. */
export function lastToolResult(messages: RequestMessage[]): string | undefined {
  const message = lastUserMessage(messages);
  if (message === undefined || typeof message.content === 'string') return undefined;
  for (let i = message.content.length - 1; i >= 0; i--) {
    const block = message.content[i];
    if (block?.type !== 'tool_result') continue;
    const content = block['content'];
    if (typeof content === 'string') return content;
    if (Array.isArray(content)) {
      return content
        .map((part: unknown) => (typeof part === 'object' && part !== null ? blockText(part as Record<string, unknown>) : undefined))
        .filter((text): text is string => text !== undefined)
        .join('\n');
    }
    return '';
  }
  return undefined;
}

/** Input token estimate: characters of system, messages and tools (as JSON) divided by 4. */
export function estimateInputTokens(request: CountTokensRequest): number {
  const chars = JSON.stringify(request.system ?? '').length + JSON.stringify(request.messages).length + JSON.stringify(request.tools ?? []).length;
  return Math.max(1, Math.ceil(chars / 4));
}

export interface RequestClassification {
  kind: RequestKind;
  /** Why a request counts as auxiliary; absent for main requests. */
  reason?: string;
}

/**
 * Tells agent-loop requests from the CLI's side requests. A request is auxiliary when
 * - it asks for at most 1 output token (a quota or connectivity probe), or
 * - it asks for structured output (`output_config.format`) and offers no tools (session title,
 *   classifiers and other one-shot helpers of the CLI).
 * Everything else is the main loop, including a main loop run with no tools at all.
 */
export function classifyRequest(request: MessagesRequest): RequestClassification {
  if (request.max_tokens <= 1) return { kind: 'auxiliary', reason: 'max_tokens <= 1 (probe)' };
  const noTools = request.tools === undefined || request.tools.length === 0;
  const format = request.output_config?.format;
  if (noTools && format !== undefined) {
    return { kind: 'auxiliary', reason: `structured output (${format.type}) without tools` };
  }
  return { kind: 'main' };
}

/** The texts and facts a reply's `match` is tested against. */
export interface MatchSubject {
  kind: RequestKind;
  model: string;
  system: string;
  lastUserText: string;
  lastToolResult: string | undefined;
}

export function matchSubject(request: MessagesRequest, kind: RequestKind): MatchSubject {
  return {
    kind,
    model: request.model,
    system: systemText(request.system),
    lastUserText: lastUserText(request.messages),
    lastToolResult: lastToolResult(request.messages),
  };
}

/**
 * A value that satisfies a JSON schema in the simple cases side requests use: objects with their
 * required properties, the first enum or const value, empty arrays, zero, false, and a fixed string.
 */
export function sampleFromJsonSchema(schema: unknown, depth = 0): unknown {
  if (typeof schema !== 'object' || schema === null || depth > 8) return null;
  const s = schema as Record<string, unknown>;
  if ('const' in s) return s['const'];
  if (Array.isArray(s['enum']) && s['enum'].length > 0) return s['enum'][0];
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const options = s[key];
    if (Array.isArray(options) && options.length > 0) return sampleFromJsonSchema(options[0], depth + 1);
  }
  const type = Array.isArray(s['type']) ? (s['type'][0] as unknown) : s['type'];
  switch (type) {
    case 'object': {
      const properties = (s['properties'] ?? {}) as Record<string, unknown>;
      const required = Array.isArray(s['required']) ? (s['required'] as string[]) : Object.keys(properties);
      const out: Record<string, unknown> = {};
      for (const name of required) out[name] = sampleFromJsonSchema(properties[name], depth + 1);
      return out;
    }
    case 'array':
      return [];
    case 'string':
      return 'Scripted session';
    case 'number':
    case 'integer':
      return 0;
    case 'boolean':
      return false;
    case 'null':
      return null;
    default:
      return 'Scripted session';
  }
}
