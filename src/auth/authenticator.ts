// Who a request is: the API key it presents, looked up in the store on every request, so a revoked
// key is refused at once. Answers the key's id, tenant and scopes, or the error to answer with
// (401 without a valid key, 403 when the key's scopes do not allow the request).
import { HangarError } from '../errors/errors.js';
import type { ApiKeyRepository, ApiKeyScope } from '../store/store.js';
import { parseApiKey, presentedToken, secretMatches } from './api-keys.js';
import type { TenantPolicies } from '../tenants/tenant-share.js';
import type { RateLimiter } from './rate-limiter.js';
import { allows, requiredScope } from './scopes.js';

export interface Caller {
  keyId: string;
  tenantId: string;
  scopes: ApiKeyScope[];
}

/** How often a key's lastUsedAt is written at most. */
const TOUCH_INTERVAL_MS = 60_000;

export interface Authenticator {
  authenticate(request: { method: string; path: string; headers: Record<string, string | string[] | undefined> }): Promise<Caller>;
}

export function createAuthenticator(
  keys: ApiKeyRepository,
  now: () => Date = () => new Date(),
  limiter?: RateLimiter,
  /** Tenant policies: a tenant's own requestsPerSecond and burst replace the configured ones. */
  policies?: TenantPolicies,
): Authenticator {
  const touched = new Map<string, number>();
  const unauthorized = (message: string): HangarError => new HangarError('UNAUTHORIZED', message);
  return {
    async authenticate(request) {
      const headers = request.headers as { authorization?: string; 'x-api-key'?: string | string[] };
      const token = presentedToken(headers);
      if (token === undefined)
        throw unauthorized('an API key is required: send Authorization: Bearer <key> (or x-api-key); the CLI reads HANGAR_API_KEY or <dataDir>/admin-key');
      const parsed = parseApiKey(token);
      const key = parsed === undefined ? undefined : await keys.get(parsed.id);
      if (parsed === undefined || key === undefined || !secretMatches(parsed.secret, key.secretHash)) throw unauthorized('invalid API key');
      if (key.revokedAt !== null) throw unauthorized(`API key ${key.id} was revoked at ${key.revokedAt}`);
      const needed = requiredScope(request.method, request.path);
      if (!allows(key.scopes, needed)) {
        throw new HangarError('FORBIDDEN', `API key ${key.id} has scopes ${key.scopes.join(', ')}; ${request.method} ${request.path} needs ${needed}`);
      }
      const at = now();
      if (at.getTime() - (touched.get(key.id) ?? 0) >= TOUCH_INTERVAL_MS) {
        touched.set(key.id, at.getTime());
        if (touched.size > 10_000) touched.clear();
        void keys.touch(key.id, at.toISOString()).catch(() => undefined);
      }
      // Counted once the key is known good: a flood of bad keys costs the flooder, not a tenant.
      if (limiter !== undefined) {
        const policy = policies === undefined ? undefined : await policies.policyOf(key.tenantId);
        limiter.take(key.tenantId, {
          ...(policy?.requestsPerSecond !== undefined ? { requestsPerSecond: policy.requestsPerSecond } : {}),
          ...(policy?.burst !== undefined ? { burst: policy.burst } : {}),
        });
      }
      return { keyId: key.id, tenantId: key.tenantId, scopes: key.scopes };
    },
  };
}
