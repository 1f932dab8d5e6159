// Request rate limits per tenant: a token bucket of `burst` requests refilled at
// `requestsPerSecond`; a request finding it empty is refused with 429 RATE_LIMITED and a
// Retry-After of the seconds until a token is back. Pure apart from the clock it is given.
import { HangarError } from '../errors/errors.js';

export interface RateLimitSettings {
  requestsPerSecond: number;
  burst: number;
}

export interface RateLimiter {
  /**
   * Takes one request's token for `tenantId`, or fails with RATE_LIMITED (429, Retry-After). `own`:
   * the tenant's own rate (its policy), replacing the configured one, and where it comes from.
   */
  take(tenantId: string, own?: Partial<RateLimitSettings> & { source?: string }): void;
}

/** Buckets kept at most; the least recently used go first (a tenant without a bucket starts full). */
const MAX_BUCKETS = 10_000;

export function createRateLimiter(settings: RateLimitSettings, now: () => number = () => Date.now()): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(tenantId, own) {
      const rate = own?.requestsPerSecond ?? settings.requestsPerSecond;
      const burst = own?.burst ?? settings.burst;
      const source = own?.requestsPerSecond !== undefined || own?.burst !== undefined ? (own.source ?? 'tenant policy') : 'auth.rateLimit';
      const at = now();
      const bucket = buckets.get(tenantId) ?? { tokens: burst, at };
      buckets.delete(tenantId);
      bucket.tokens = Math.min(burst, bucket.tokens + ((at - bucket.at) / 1000) * rate);
      bucket.at = at;
      buckets.set(tenantId, bucket);
      if (buckets.size > MAX_BUCKETS) buckets.delete(buckets.keys().next().value as string);
      if (bucket.tokens < 1) {
        const retryAfterSec = Math.max(1, Math.ceil((1 - bucket.tokens) / rate));
        throw new HangarError(
          'RATE_LIMITED',
          `tenant ${tenantId} is over its rate limit of ${rate} requests per second (burst ${burst}, ${source}); retry in ${retryAfterSec} s`,
          { retryAfterSec, details: { requestsPerSecond: rate, burst } },
        );
      }
      bucket.tokens -= 1;
    },
  };
}
