// When the gateway retries an upstream answer, and how long it waits.
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, isRetryableStatus, requestedWaitMs, retryDelayMs } from '../../src/gateway/upstream-retry.js';

describe('upstream retry policy', () => {
  it('retries only answers that mean try again', () => {
    for (const status of [408, 409, 429, 500, 502, 503, 504, 529]) expect(isRetryableStatus(status), String(status)).toBe(true);
    for (const status of [400, 401, 402, 403, 404, 413, 422]) expect(isRetryableStatus(status), String(status)).toBe(false);
  });

  it('reads retry-after-ms, retry-after in seconds and as a date', () => {
    expect(requestedWaitMs({ 'retry-after-ms': '250' })).toBe(250);
    expect(requestedWaitMs({ 'retry-after': '2' })).toBe(2000);
    expect(requestedWaitMs({ 'retry-after': new Date(10_000).toUTCString() }, 4000)).toBe(6000);
    expect(requestedWaitMs({ 'retry-after': 'soon' })).toBeUndefined();
    expect(requestedWaitMs({})).toBeUndefined();
  });

  it('backs off exponentially with jitter, honours a requested wait within the cap, and stops after maxRetries', () => {
    const settings = { ...DEFAULT_RETRY, maxRetries: 3, baseDelayMs: 100, maxWaitMs: 1000 };
    expect(retryDelayMs(1, undefined, settings, () => 0)).toBe(100);
    expect(retryDelayMs(2, undefined, settings, () => 0)).toBe(200);
    expect(retryDelayMs(3, undefined, settings, () => 1)).toBe(300);
    expect(retryDelayMs(4, undefined, settings)).toBeUndefined();
    expect(retryDelayMs(1, 700, settings)).toBe(700);
    expect(retryDelayMs(1, 5000, settings)).toBeUndefined();
  });
});
