// Authentication at startup: with auth.mode keys (the default), the authenticator, and the first
// admin key made and written to <dataDir>/admin-key when there is no key yet; with auth.mode none,
// nothing, allowed only on a loopback address and logged loudly.
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { HangarConfig } from '../config/config.js';
import { HangarError } from '../errors/errors.js';
import type { Store } from '../store/store.js';
import type { TenantPolicies } from '../tenants/tenant-share.js';
import { ensureAdminKey } from './admin-key.js';
import { createAuthenticator, type Authenticator } from './authenticator.js';
import { createRateLimiter } from './rate-limiter.js';

/** True for a host name or address that only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1';
}

export async function startAuthentication(
  config: Pick<HangarConfig, 'auth' | 'server'>,
  store: Pick<Store, 'apiKeys'>,
  dataDir: string,
  logger: Logger,
  policies?: TenantPolicies,
): Promise<Authenticator | undefined> {
  if (config.auth.mode === 'none') {
    if (!isLoopbackHost(config.server.host)) {
      throw new HangarError(
        'CONFIG_INVALID',
        `auth.mode none is for local use only, but server.host is ${config.server.host}: use auth.mode keys, or listen on 127.0.0.1`,
      );
    }
    logger.warn('auth.mode is none: the HTTP API takes requests without an API key (local use only)');
    return undefined;
  }
  const admin = await ensureAdminKey(store.apiKeys, dataDir);
  if (admin.created)
    logger.info({ file: admin.file }, 'first start: an admin API key was written to the data directory (the local CLI reads it; HANGAR_API_KEY elsewhere)');
  return createAuthenticator(store.apiKeys, undefined, createRateLimiter(config.auth.rateLimit), policies);
}
