// Which refusals the client retries and how long it waits: only a 429 that created nothing, after
// its Retry-After, within the attempts, the per-wait cap and the total wait.
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, nextRetryWaitMs, retryAfterMs, retrySettings } from '../../src/client/retry-policy.js';

const limited = (retryAfter: number | undefined) => ({ status: 429, code: 'RATE_LIMITED', retryAfterMs: retryAfter });

describe('client retry policy', () => {
  it('retries RATE_LIMITED and CAPACITY_EXCEEDED after their Retry-After, nothing else', () => {
    expect(nextRetryWaitMs(limited(2000), 1, 0, DEFAULT_RETRY)).toBe(2000);
    expect(nextRetryWaitMs({ status: 429, code: 'CAPACITY_EXCEEDED', retryAfterMs: 5000 }, 1, 0, DEFAULT_RETRY)).toBe(5000);
    expect(nextRetryWaitMs(limited(undefined), 1, 0, DEFAULT_RETRY)).toBe(1000);
    expect(nextRetryWaitMs({ status: 429, code: 'BUDGET_EXCEEDED', retryAfterMs: 1000 }, 1, 0, DEFAULT_RETRY)).toBeUndefined();
    expect(nextRetryWaitMs({ status: 503, code: 'RATE_LIMITED', retryAfterMs: 1000 }, 1, 0, DEFAULT_RETRY)).toBeUndefined();
  });

  it('gives up after maxAttempts, past maxWaitMs for one wait, and past maxTotalWaitMs in all', () => {
    const settings = { maxAttempts: 3, maxWaitMs: 30_000, maxTotalWaitMs: 40_000 };
    expect(nextRetryWaitMs(limited(1000), 2, 1000, settings)).toBe(1000);
    expect(nextRetryWaitMs(limited(1000), 3, 2000, settings)).toBeUndefined();
    expect(nextRetryWaitMs(limited(30_000), 1, 0, settings)).toBe(30_000);
    expect(nextRetryWaitMs(limited(31_000), 1, 0, settings)).toBeUndefined();
    expect(nextRetryWaitMs(limited(20_000), 2, 20_000, settings)).toBe(20_000);
    expect(nextRetryWaitMs(limited(20_000), 2, 20_001, settings)).toBeUndefined();
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('2', now)).toBe(2000);
    expect(retryAfterMs(' 1.5 ', now)).toBe(1500);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:07 GMT', now)).toBe(7000);
    expect(retryAfterMs('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });

  it('defaults to a few attempts; false is one attempt', () => {
    expect(retrySettings(undefined)).toMatchObject({ maxAttempts: 4, maxWaitMs: 30_000, maxTotalWaitMs: 60_000 });
    expect(retrySettings(false).maxAttempts).toBe(1);
    expect(retrySettings({ maxAttempts: 0 }).maxAttempts).toBe(1);
  });
});
