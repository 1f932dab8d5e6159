// The SDK result -> outcome mapping (map-sdk-result.ts), on result messages as the SDK types them.
import type { SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import { describe, expect, it } from 'vitest';
import { mapSdkResult } from '../../src/runner/map-sdk-result.js';

const result = (fields: Record<string, unknown>): SDKResultMessage =>
  ({ type: 'result', num_turns: 1, total_cost_usd: 0, ...fields }) as unknown as SDKResultMessage;

describe('mapSdkResult', () => {
  it('is null for a success', () => {
    expect(mapSdkResult(result({ subtype: 'success', is_error: false, result: 'ok' }))).toBeNull();
  });

  it('maps a success that reports an error to AGENT_FAILED with its text', () => {
    expect(mapSdkResult(result({ subtype: 'success', is_error: true, result: 'API Error: 500' }))).toEqual({ code: 'AGENT_FAILED', message: 'API Error: 500' });
    expect(mapSdkResult(result({ subtype: 'success', is_error: true, result: '' }))).toEqual({ code: 'AGENT_FAILED', message: 'the agent reported an error' });
  });

  it('gives each error subtype its code, and names the subtype and its errors', () => {
    expect(mapSdkResult(result({ subtype: 'error_max_budget_usd', is_error: true, errors: [] }))).toEqual({
      code: 'BUDGET_EXCEEDED',
      message: 'error max budget usd',
    });
    expect(mapSdkResult(result({ subtype: 'error_max_turns', is_error: true, errors: ['a', 'b'] }))).toEqual({
      code: 'MAX_TURNS',
      message: 'error max turns: a; b',
    });
    expect(mapSdkResult(result({ subtype: 'error_during_execution', is_error: true, errors: [] }))?.code).toBe('AGENT_FAILED');
    expect(mapSdkResult(result({ subtype: 'error_max_structured_output_retries', is_error: true, errors: [] }))?.code).toBe('AGENT_FAILED');
  });
});
