// The scenario file that drives the scripted model server: which replies it sends, in which order,
// with which faults and delays. Parsed with zod; every error is a HangarError('SCENARIO_INVALID').
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { HangarError } from '../errors/errors.js';

/** A regular expression given as a string; checked at parse time. */
const regexString = z.string().superRefine((value, ctx) => {
  try {
    new RegExp(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(error as Error).message}` });
  }
});

export const requestKindSchema = z
  .enum(['main', 'auxiliary', 'any'])
  .describe('Which requests a reply may answer: agent-loop requests (main), side requests (auxiliary), or both');

export const replyMatchSchema = z
  .strictObject({
    lastUserText: regexString
      .optional()
      .describe('Regex tested against the text blocks of the last user message (tool results and <system-reminder> blocks excluded)'),
    lastToolResult: regexString.optional().describe('Regex tested against the text of the last tool_result block of the last user message'),
    system: regexString.optional().describe('Regex tested against the top-level system prompt text'),
    model: regexString.optional().describe('Regex tested against the model id the request names'),
    kind: requestKindSchema.optional().describe('Request kind this reply answers; default main'),
  })
  .describe('All given conditions must hold for the reply to be chosen');

export const textBlockSchema = z.strictObject({
  type: z.literal('text'),
  text: z.string().describe('Text the model replies with'),
});

export const toolUseBlockSchema = z.strictObject({
  type: z.literal('tool_use'),
  name: z.string().min(1).describe('Tool name, e.g. Bash, Write, Read'),
  input: z.record(z.string(), z.unknown()).describe('Tool input object'),
  id: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .optional()
    .describe('tool_use id; default a fresh toolu_... id'),
});

export const thinkingBlockSchema = z.strictObject({
  type: z.literal('thinking'),
  thinking: z.string().describe('Thinking text'),
});

export const contentBlockSchema = z.discriminatedUnion('type', [textBlockSchema, toolUseBlockSchema, thinkingBlockSchema]);

export const stopReasonSchema = z.enum(['end_turn', 'tool_use', 'max_tokens', 'stop_sequence']);

export const usageOverrideSchema = z
  .strictObject({
    inputTokens: z.number().int().nonnegative().optional(),
    outputTokens: z.number().int().nonnegative().optional(),
    cacheCreationInputTokens: z.number().int().nonnegative().optional(),
    cacheReadInputTokens: z.number().int().nonnegative().optional(),
  })
  .describe('Usage numbers reported instead of the computed ones');

export const httpFaultSchema = z
  .strictObject({
    status: z.number().int().min(400).max(599).describe('HTTP status of the error response'),
    retryAfterSec: z.number().nonnegative().optional().describe('Value of the retry-after header'),
    shouldRetry: z.boolean().optional().describe('Sends x-should-retry: true or false, which the CLI obeys'),
    message: z.string().optional().describe('error.message in the Anthropic error body'),
    errorType: z.string().optional().describe('error.type in the Anthropic error body; default derived from the status'),
  })
  .describe('Answer with an HTTP error in the Anthropic error format');

export const cutFaultSchema = z
  .strictObject({
    cutAfterEvents: z.number().int().nonnegative().describe('Start the SSE stream, send this many events, then destroy the connection'),
  })
  .describe('Break the stream mid-way');

export const faultSchema = z.union([httpFaultSchema, cutFaultSchema]);

export const replySchema = z.strictObject({
  match: replyMatchSchema.optional(),
  content: z.array(contentBlockSchema).optional().describe('Content blocks of the assistant message'),
  stopReason: stopReasonSchema.optional().describe('Default: tool_use when a tool_use block is present, else end_turn'),
  delayMs: z.number().int().nonnegative().optional().describe('Wait before the response starts'),
  chunkDelayMs: z.number().int().nonnegative().optional().describe('Wait between streamed events'),
  usage: usageOverrideSchema.optional(),
  fault: faultSchema.optional(),
  times: z.number().int().positive().optional().describe('How many requests this reply answers; default 1'),
});

export const whenExhaustedSchema = z
  .union([z.literal('error'), z.literal('repeat-last'), z.literal('restart'), z.strictObject({ text: z.string() })])
  .describe('What a main request gets once no reply is left: an error, the last reply again, the script from its start, or a text');

export const scenarioSchema = z.strictObject({
  $schema: z.string().optional().describe('Ignored; lets editors attach a JSON schema'),
  description: z.string().optional().describe('Free text for humans'),
  model: z.string().min(1).optional().describe('Model id reported back; default the request model'),
  replies: z.array(replySchema).describe('Replies, used in order'),
  whenExhausted: whenExhaustedSchema.optional(),
  auxiliary: z.enum(['auto', 'script']).optional().describe('auto: side requests get a default answer; script: every request goes through replies'),
});

export type Scenario = z.infer<typeof scenarioSchema>;
export type ScenarioReply = z.infer<typeof replySchema>;
export type ScenarioReplyMatch = z.infer<typeof replyMatchSchema>;
export type ScenarioContentBlock = z.infer<typeof contentBlockSchema>;
export type ScenarioFault = z.infer<typeof faultSchema>;
export type ScenarioHttpFault = z.infer<typeof httpFaultSchema>;
export type ScenarioUsage = z.infer<typeof usageOverrideSchema>;
export type StopReason = z.infer<typeof stopReasonSchema>;
export type RequestKind = 'main' | 'auxiliary';

/** Turns zod issues into one line per issue, each prefixed with its path (e.g. `replies.0.fault.status`). */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      return path === '' ? issue.message : `${path}: ${issue.message}`;
    })
    .join('; ');
}

/** Validates a parsed JSON value as a scenario. */
export function parseScenario(value: unknown, source = 'scenario'): Scenario {
  const result = scenarioSchema.safeParse(value);
  if (!result.success) {
    throw new HangarError('SCENARIO_INVALID', `${source} is invalid: ${describeIssues(result.error)}`, {
      details: result.error.issues,
    });
  }
  return result.data;
}

/** Reads and validates a JSON scenario file. */
export async function loadScenarioFile(path: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new HangarError('SCENARIO_INVALID', `cannot read scenario file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HangarError('SCENARIO_INVALID', `${path} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseScenario(value, path);
}
