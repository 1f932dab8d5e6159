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

/**
 * The CLI's result text when the gateway refused a call for a budget (402 billing_error, its message
 * starting "Hangar:"): a session's maxBudgetUsd or its tenant's dailyBudgetUsd. An upstream 402 (the
 * provider account's own billing) carries no such message and stays AGENT_FAILED.
 */
const GATEWAY_BUDGET_REFUSAL = /^API Error: 402\b.*\bHangar: .*\bbudget\b/s;

/** Null when the run succeeded; else why it did not, as its record says it. */
export function mapSdkResult(result: SDKResultMessage): RunFailure | null {
  if (result.subtype === 'success') {
    if (!result.is_error) return null;
    const message = result.result || 'the agent reported an error';
    return { code: GATEWAY_BUDGET_REFUSAL.test(message) ? 'BUDGET_EXCEEDED' : 'AGENT_FAILED', message };
  }
  const detail = result.errors.length > 0 ? `: ${result.errors.join('; ')}` : '';
  return { code: SUBTYPE_CODES[result.subtype], message: `${result.subtype.replaceAll('_', ' ')}${detail}` };
}
