// The pids budget: live sandboxes share the parent's pids ceiling without overcommit.
import { describe, expect, it } from 'vitest';
import { HangarError } from '../../../src/errors/errors.js';
import { createPidsBudget, isPidsExhausted } from '../../../src/sandbox/cgroups/pids-budget.js';

function refusal(action: () => void): HangarError {
  try {
    action();
  } catch (error) {
    if (error instanceof HangarError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('pids budget', () => {
  it('reserves up to the ceiling, then refuses with CAPACITY_EXCEEDED, 429 and Retry-After', () => {
    const budget = createPidsBudget(() => 150);
    budget.reserve('a', 64);
    budget.reserve('b', 64);
    expect(budget.reserved).toBe(128);
    const error = refusal(() => budget.reserve('c', 64));
    expect(error.code).toBe('CAPACITY_EXCEEDED');
    expect(error.httpStatus).toBe(429);
    expect(error.retryAfterSec).toBeGreaterThan(0);
    expect(error.message).toContain('sandbox.hostLimits.pids');
    expect(error.details).toEqual({ pids: 64, reserved: 128, ceiling: 150 });
    expect(isPidsExhausted(error)).toBe(true);
    // A refused reservation holds nothing; a smaller one still fits.
    expect(budget.reserved).toBe(128);
    budget.reserve('c', 22);
    expect(budget.reserved).toBe(150);
  });

  it('resizes a reservation in place and refuses a resize past the ceiling without changing it', () => {
    const budget = createPidsBudget(() => 100);
    budget.reserve('a', 40);
    budget.reserve('b', 40);
    budget.reserve('a', 60);
    expect(budget.reserved).toBe(100);
    expect(() => budget.reserve('b', 41)).toThrow(/no room for a sandbox of 41 pids: live sandboxes reserve 60 of the 100/);
    expect(budget.reserved).toBe(100);
    budget.reserve('a', 10);
    budget.reserve('b', 90);
    expect(budget.reserved).toBe(100);
  });

  it('gives a reservation back once, and holds none before the ceiling is known', () => {
    const parent: { ceiling?: number } = {};
    const budget = createPidsBudget(() => parent.ceiling);
    budget.reserve('early', 500);
    parent.ceiling = 600;
    expect(() => budget.reserve('late', 200)).toThrow(HangarError);
    budget.release('early');
    budget.release('early');
    expect(budget.reserved).toBe(0);
    budget.reserve('late', 200);
    expect(budget.reserved).toBe(200);
    expect(isPidsExhausted(new HangarError('CAPACITY_EXCEEDED', 'maxLive', { details: { live: 1, maxLive: 1 } }))).toBe(false);
  });
});
