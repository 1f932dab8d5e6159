// What the gateway holds each tenant to, across all its sessions and tasks: model calls per minute
// (its policy's upstreamRequestsPerMinute; beyond it 429 rate_limit_error with retry-after, which
// the CLI waits out and retries) and USD per UTC day (dailyBudgetUsd; once reached, 402
// billing_error, which ends the run). Spend is kept per tenant and day in the store, so it holds
// across restarts and nodes; calls already in flight when the budget is crossed still finish (a
// tenant's calls are not serialized), so a day ends over by at most what those calls cost.
import type { Logger } from 'pino';
import { createRateLimiter } from '../auth/rate-limiter.js';
import { HangarError } from '../errors/errors.js';
import type { TenantUsageRepository, TokenUsage } from '../store/store.js';
import type { TenantPolicies } from '../tenants/tenant-share.js';
import { costOfUsageByModel, type PriceTable } from './pricing.js';

export type TenantAdmission = { ok: true } | { ok: false; reason: 'tenant_rate' | 'tenant_budget'; message: string; retryAfterSec?: number };

export interface TenantGatewayLimits {
  /** Admits one model call of the tenant, or says which of its limits refuses it. */
  admit(tenantId: string, countsAgainstBudget: boolean): Promise<TenantAdmission>;
  /** Adds a metered call to the tenant's spend of the day. */
  meter(tenantId: string, model: string, usage: TokenUsage): void;
  /** Waits for the spend written so far (tests, shutdown). */
  flush(): Promise<void>;
}

export interface TenantGatewayLimitsSettings {
  policies: TenantPolicies;
  usage: TenantUsageRepository;
  prices: PriceTable;
  logger: Logger;
  now?: () => Date;
}

/** The UTC day of `at`, as the usage rows name it. */
export const utcDay = (at: Date): string => at.toISOString().slice(0, 10);

export function createTenantGatewayLimits(settings: TenantGatewayLimitsSettings): TenantGatewayLimits {
  const now = settings.now ?? (() => new Date());
  // One bucket per tenant; each take names the tenant's own rate (calls per second, a minute's worth at once).
  const rates = createRateLimiter({ requestsPerSecond: 1, burst: 1 }, () => now().getTime());
  /** USD metered but not yet written, per tenant and day. */
  const unwritten = new Map<string, number>();
  const writes = new Set<Promise<void>>();
  return {
    async admit(tenantId, countsAgainstBudget) {
      const policy = await settings.policies.policyOf(tenantId);
      const perMinute = policy.upstreamRequestsPerMinute;
      if (perMinute !== undefined) {
        try {
          rates.take(tenantId, { requestsPerSecond: perMinute / 60, burst: perMinute, source: 'upstreamRequestsPerMinute' });
        } catch (error) {
          if (!(error instanceof HangarError)) throw error;
          return {
            ok: false,
            reason: 'tenant_rate',
            message: `Hangar: tenant ${tenantId} is over its ${perMinute} model calls per minute (policy upstreamRequestsPerMinute)`,
            ...(error.retryAfterSec !== undefined ? { retryAfterSec: error.retryAfterSec } : {}),
          };
        }
      }
      const limit = policy.dailyBudgetUsd;
      if (limit !== undefined && countsAgainstBudget) {
        const day = utcDay(now());
        const spent = (await settings.usage.get(tenantId, day)).costUsd + (unwritten.get(`${tenantId}\n${day}`) ?? 0);
        if (spent >= limit) {
          return {
            ok: false,
            reason: 'tenant_budget',
            message: `Hangar: tenant ${tenantId} has spent $${spent.toFixed(4)} of its $${limit} daily budget (policy dailyBudgetUsd, UTC day ${day}); no more model calls today`,
          };
        }
      }
      return { ok: true };
    },
    meter(tenantId, model, usage) {
      const day = utcDay(now());
      const costUsd = costOfUsageByModel(settings.prices, { [model]: usage });
      const key = `${tenantId}\n${day}`;
      unwritten.set(key, (unwritten.get(key) ?? 0) + costUsd);
      const write = settings.usage
        .add(tenantId, day, { requests: 1, inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, costUsd })
        .catch((error: unknown) => settings.logger.error({ err: error, tenantId }, 'gateway: recording the tenant spend failed'))
        .finally(() => {
          const left = (unwritten.get(key) ?? 0) - costUsd;
          if (left > 1e-12) unwritten.set(key, left);
          else unwritten.delete(key);
          writes.delete(write);
        });
      writes.add(write);
    },
    async flush() {
      await Promise.all([...writes]);
    },
  };
}
