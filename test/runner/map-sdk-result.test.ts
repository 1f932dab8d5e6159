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
    // The gateway's budget refusals (a session's maxBudgetUsd, a tenant's daily budget) are BUDGET_EXCEEDED; the provider's own 402 is not.
    const tenantRefusal =
      'API Error: 402 Hangar: tenant acme has spent $2.0000 of its $2 daily budget (policy dailyBudgetUsd, UTC day 2026-12-01); no more model calls today';
    expect(mapSdkResult(result({ subtype: 'success', is_error: true, result: tenantRefusal }))).toEqual({ code: 'BUDGET_EXCEEDED', message: tenantRefusal });
    const providerRefusal = 'API Error: 402 {"type":"error","error":{"type":"billing_error","message":"Your credit balance is too low"}}';
    expect(mapSdkResult(result({ subtype: 'success', is_error: true, result: providerRefusal }))?.code).toBe('AGENT_FAILED');
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
