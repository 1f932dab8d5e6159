// What an agent run's SDK result message means, for tasks and session turns alike: success, or
// the outcome code and message its record carries.
import type { SDKResultError, SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import type { OutcomeCode } from '../errors/errors.js';

export interface RunFailure {
  code: OutcomeCode;
  message: string;
}

/** The outcome code of each error subtype: exhaustive, so a new subtype must be given one. */
const SUBTYPE_CODES: Record<SDKResultError['subtype'], OutcomeCode> = {
  error_max_turns: 'MAX_TURNS',
  error_max_budget_usd: 'BUDGET_EXCEEDED',
  error_during_execution: 'AGENT_FAILED',
  error_max_structured_output_retries: 'AGENT_FAILED',
};

/** Null when the run succeeded; else why it did not, as its record says it. */
export function mapSdkResult(result: SDKResultMessage): RunFailure | null {
  if (result.subtype === 'success') {
    return result.is_error ? { code: 'AGENT_FAILED', message: result.result || 'the agent reported an error' } : null;
  }
  const detail = result.errors.length > 0 ? `: ${result.errors.join('; ')}` : '';
  return { code: SUBTYPE_CODES[result.subtype], message: `${result.subtype.replaceAll('_', ' ')}${detail}` };
}
