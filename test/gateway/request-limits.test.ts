// Admission into the gateway: open requests per token, buffered bytes per token and in total.
import { describe, expect, it } from 'vitest';
import { createInFlightLimiter, type AdmissionTicket } from '../../src/gateway/request-limits.js';
import { isRefusal } from '../../src/gateway/request-policy.js';

const limits = { maxConcurrentPerToken: 2, maxInFlightBytesPerToken: 100, maxInFlightBytes: 150 };

const admit = (limiter: ReturnType<typeof createInFlightLimiter>, key: string): AdmissionTicket => {
  const ticket = limiter.acquire(key);
  if (isRefusal(ticket)) throw new Error(ticket.message);
  return ticket;
};

describe('gateway in-flight limiter', () => {
  it('holds each token to its concurrent requests and gives slots back on release', () => {
    const limiter = createInFlightLimiter(limits);
    const a1 = admit(limiter, 'a');
    admit(limiter, 'a');
    expect(limiter.acquire('a')).toMatchObject({ reason: 'concurrency' });
    expect(isRefusal(limiter.acquire('b'))).toBe(false);
    a1.release();
    a1.release();
    expect(isRefusal(limiter.acquire('a'))).toBe(false);
    expect(limiter.acquire('a')).toMatchObject({ reason: 'concurrency' });
  });

  it('budgets buffered bytes per token and for the whole gateway', () => {
    const limiter = createInFlightLimiter(limits);
    const a = admit(limiter, 'a');
    expect(a.reserve(60)).toBeUndefined();
    const a2 = admit(limiter, 'a');
    expect(a2.reserve(41)).toMatchObject({ reason: 'in_flight_bytes' });
    expect(a2.reserve(40)).toBeUndefined();
    const b = admit(limiter, 'b');
    expect(b.reserve(51)).toMatchObject({ reason: 'gateway_bytes' });
    expect(b.reserve(50)).toBeUndefined();
    expect(limiter.stats()).toMatchObject({ requests: 3, bytes: 150, byKey: { a: { requests: 2, bytes: 100 }, b: { requests: 1, bytes: 50 } } });
    a.releaseBytes();
    expect(a.reservedBytes).toBe(0);
    expect(limiter.stats()).toMatchObject({ requests: 3, bytes: 90 });
    a.release();
    a2.release();
    b.release();
    expect(limiter.stats()).toEqual({ requests: 0, bytes: 0, byKey: {} });
  });

  it('lets a released ticket reserve nothing', () => {
    const limiter = createInFlightLimiter(limits);
    const a = admit(limiter, 'a');
    a.release();
    expect(a.reserve(1)).toBeDefined();
    expect(limiter.stats().bytes).toBe(0);
  });
});
