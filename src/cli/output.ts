// How the CLI prints what agents do: SDK messages as readable lines, a session's event stream, a
// task's summary; and what it says while it waits out a 429 and when it gives up.
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import type { HangarApiError, HangarClient, RetryNotice, RetryOptions, TaskView } from '../client/hangar-client.js';

/**
 * The CLI in the sandbox ends a model error with "check your inference gateway (127.0.0.1:4100)",
 * an address inside the sandbox; Hangar's gateway has already named the real upstream earlier in
 * the same message.
 */
function withRealUpstream(text: string): string {
  if (!text.includes('the model upstream ')) return text;
  return text.replace(/your inference gateway \(127\.0\.0\.1:\d+\)/g, "the model upstream named above (Hangar's gateway forwards to it)");
}

/** One line per noteworthy SDK message: the agent's text, its tool calls, their results. */
export function describeMessage(message: SDKMessage): string[] {
  const lines: string[] = [];
  if (message.type === 'system' && message.subtype === 'init') {
    lines.push(`· session ${message.session_id} (model ${message.model}, tools: ${message.tools.join(', ')})`);
  } else if (message.type === 'assistant') {
    for (const block of message.message.content) {
      if (block.type === 'text' && block.text.trim() !== '') lines.push(withRealUpstream(block.text.trim()));
      if (block.type === 'tool_use') lines.push(`→ ${block.name} ${JSON.stringify(block.input).slice(0, 200)}`);
    }
  } else if (message.type === 'user' && Array.isArray(message.message.content)) {
    for (const block of message.message.content) {
      if (typeof block === 'object' && block.type === 'tool_result') {
        const text =
          typeof block.content === 'string'
            ? block.content
            : Array.isArray(block.content)
              ? block.content.map((part) => ('text' in part ? part.text : '')).join('')
              : '';
        lines.push(`← ${block.is_error ? 'error: ' : ''}${text.replace(/\s+/g, ' ').slice(0, 200)}`);
      }
    }
  }
  return lines;
}

/** Prints a session's events readably until `untilMessageId`'s turn ends (or forever). */
export async function followEvents(api: HangarClient, id: string, after: number, untilMessageId?: string): Promise<void> {
  await api.readEvents(id, {
    after,
    onEvent: (event) => {
      const data = event.data as Record<string, unknown>;
      if (event.type === 'sdk') {
        for (const line of describeMessage(data as unknown as SDKMessage)) process.stdout.write(`${line}\n`);
      } else if (event.type === 'turn_completed') {
        process.stdout.write(`· turn done: ${String(data.result ?? '')} ($${Number(data.costUsd ?? 0).toFixed(6)} so far)\n`);
      } else if (event.type === 'turn_failed') {
        process.stdout.write(`· turn failed: ${JSON.stringify(data.error)}\n`);
      } else if (event.type !== 'checkpoint') {
        process.stdout.write(`· ${event.type} ${JSON.stringify(data)}\n`);
      }
      return untilMessageId !== undefined && (event.type === 'turn_completed' || event.type === 'turn_failed') && data.messageId === untilMessageId;
    },
  });
}

export function printSummary(task: TaskView): void {
  const usage = task.usage;
  process.stdout.write('\n');
  if (task.status === 'succeeded') process.stdout.write(`result: ${task.result ?? ''}\n`);
  else process.stdout.write(`${task.status}: ${task.error?.code ?? ''} ${task.error?.message ?? ''}\n`);
  for (const file of task.files) process.stdout.write(`file ${file.change}: ${file.path} (${file.sizeBytes} bytes)\n`);
  process.stdout.write(
    `task ${task.id}: ${task.numTurns ?? 0} turns, ${task.durationMs ?? 0} ms, tokens in ${usage.inputTokens} out ${usage.outputTokens} ` +
      `cache write ${usage.cacheCreationInputTokens} read ${usage.cacheReadInputTokens}, cost $${task.costUsd.toFixed(6)}\n`,
  );
}

/** What a 429 code means and what the user can do about it. */
const REFUSAL_ADVICE: Record<string, string> = {
  RATE_LIMITED:
    "too many requests for this API key's tenant (the limit is named above): run the command again after the wait, space out scripted calls, or ask the operator for a higher rate limit",
  CAPACITY_EXCEEDED:
    'every sandbox you may run is in use (the ceiling is named above): run the command again once tasks or sessions finish (close or hibernate idle sessions with `hangar sessions`), or ask the operator for more',
};

/** The line the CLI prints on stderr before it waits out a 429 and tries again. */
export function describeRetry(notice: RetryNotice): string {
  return `· ${notice.code}: refused for now (429), trying again in ${formatSeconds(notice.waitMs)} s (attempt ${notice.attempt + 1} of ${notice.maxAttempts})`;
}

/** The CLI's clients retry a 429 with the client's default bounds and say so on stderr before each wait. */
export const CLI_RETRY: RetryOptions = { onRetry: (notice) => process.stderr.write(`${describeRetry(notice)}\n`) };

/** A `hint:` line for an API error the CLI gave up on, or undefined when it has none. */
export function apiErrorHint(error: HangarApiError): string | undefined {
  if (error.status !== 429) return undefined;
  const refused = error.attempts > 1 ? `still refused after ${error.attempts} attempts over ${formatSeconds(error.waitedMs)} s` : 'refused the request';
  const wait = error.retryAfterSec !== undefined ? ` and asks to wait ${formatSeconds(error.retryAfterSec * 1000)} s (Retry-After) before the next try` : '';
  const advice = REFUSAL_ADVICE[error.code] ?? 'run the command again later';
  return `hint: the server ${refused}${wait}; ${advice}`;
}

function formatSeconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}
