// API key tokens, scopes and the authentication mode's startup checks, without a server.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ensureAdminKey, readAdminKey } from '../../src/auth/admin-key.js';
import { generateApiKey, parseApiKey, presentedToken, secretMatches } from '../../src/auth/api-keys.js';
import { createAuthenticator } from '../../src/auth/authenticator.js';
import { createRateLimiter } from '../../src/auth/rate-limiter.js';
import { allows, requiredScope } from '../../src/auth/scopes.js';
import { isLoopbackHost, startAuthentication } from '../../src/auth/start-authentication.js';
import { createInMemoryStore } from '../../src/store/in-memory/index.js';

describe('API key tokens', () => {
  it('parse back to their id and secret, and only the right secret matches the stored hash', () => {
    const key = generateApiKey();
    expect(key.token).toMatch(/^hgk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const parsed = parseApiKey(key.token)!;
    expect(parsed.id).toBe(key.id);
    expect(secretMatches(parsed.secret, key.secretHash)).toBe(true);
    expect(
      secretMatches(
        parsed.secret.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
        key.secretHash,
      ),
    ).toBe(false);
    expect(key.secretHash).not.toContain(parsed.secret);
    for (const bad of ['', 'hgk_', `hgk_${key.id}`, key.token.slice(0, -1), `${key.token}x`, key.token.replace('hgk_', 'sk-')])
      expect(parseApiKey(bad), bad).toBeUndefined();
  });

  it('are read from Authorization: Bearer or x-api-key', () => {
    expect(presentedToken({ authorization: 'Bearer abc' })).toBe('abc');
    expect(presentedToken({ authorization: 'bearer  abc ' })).toBe('abc');
    expect(presentedToken({ 'x-api-key': 'xyz', authorization: 'Bearer abc' })).toBe('xyz');
    expect(presentedToken({ authorization: 'Basic abc' })).toBeUndefined();
    expect(presentedToken({})).toBeUndefined();
  });
});

describe('scopes', () => {
  it('need admin for keys, read for GET, run for the rest; admin allows all and run allows read', () => {
    expect(requiredScope('GET', '/v1/keys')).toBe('admin');
    expect(requiredScope('DELETE', '/v1/keys/:id')).toBe('admin');
    expect(requiredScope('GET', '/v1/tasks/:id')).toBe('read');
    expect(requiredScope('POST', '/v1/tasks')).toBe('run');
    expect(requiredScope('DELETE', '/v1/sessions/:id')).toBe('run');
    expect(allows(['admin'], 'run')).toBe(true);
    expect(allows(['run'], 'read')).toBe(true);
    expect(allows(['read'], 'run')).toBe(false);
    expect(allows(['run', 'read'], 'admin')).toBe(false);
  });
});

describe('authentication at startup', () => {
  it('writes the first admin key once, 0600, and it authenticates', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hangar-auth-'));
    try {
      const store = createInMemoryStore();
      const first = await ensureAdminKey(store.apiKeys, dir);
      expect(first.created).toBe(true);
      expect((await stat(first.file)).mode & 0o777).toBe(0o600);
      expect((await ensureAdminKey(store.apiKeys, dir)).created).toBe(false);
      const token = (await readAdminKey(dir))!;
      expect(token).toBe((await readFile(first.file, 'utf8')).trim());
      const caller = await createAuthenticator(store.apiKeys).authenticate({ method: 'POST', path: '/v1/keys', headers: { authorization: `Bearer ${token}` } });
      expect(caller).toMatchObject({ tenantId: 'default', scopes: ['admin'] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses auth.mode none on an address other hosts reach', async () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
    expect(isLoopbackHost('10.1.2.3')).toBe(false);
    const store = createInMemoryStore();
    const logger = pino({ level: 'silent' });
    await expect(startAuthentication({ auth: { mode: 'none' }, server: { host: '0.0.0.0' } } as never, store, '/nonexistent', logger)).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('auth.mode none is for local use only'),
    });
    expect(await startAuthentication({ auth: { mode: 'none' }, server: { host: '127.0.0.1' } } as never, store, '/nonexistent', logger)).toBeUndefined();
  });
});

describe('rate limits per tenant', () => {
  it('lets a burst through, then refuses with RATE_LIMITED and the seconds until a token is back; tenants apart', () => {
    let now = 0;
    const limiter = createRateLimiter({ requestsPerSecond: 2, burst: 3 }, () => now);
    for (let i = 0; i < 3; i += 1) limiter.take('a');
    let refusal: unknown;
    try {
      limiter.take('a');
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toMatchObject({ code: 'RATE_LIMITED', httpStatus: 429, retryAfterSec: 1 });
    limiter.take('b');
    now = 500;
    limiter.take('a');
    expect(() => limiter.take('a')).toThrow(/over its rate limit of 2 requests per second \(burst 3/);
    now = 10_000;
    for (let i = 0; i < 3; i += 1) limiter.take('a');
    expect(() => limiter.take('a')).toThrow();
  });
});
