// A tenant over its request rate gets 429 RATE_LIMITED with Retry-After; health stays open.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHangar, type Hangar } from '../../src/app.js';
import { readAdminKey } from '../../src/auth/admin-key.js';
import { parseConfig } from '../../src/config/config.js';
import { createInMemorySandboxProvider } from '../../src/sandbox/providers/in-memory.js';

describe('request rate limit per tenant', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-rate-'));
  let hangar: Hangar;
  let key: string;

  beforeAll(async () => {
    const config = parseConfig({ dataDir: directory, logLevel: 'silent', auth: { mode: 'keys', rateLimit: { requestsPerSecond: 0.5, burst: 3 } } });
    hangar = await createHangar(config, { logger: pino({ level: 'silent' }), sandboxProvider: createInMemorySandboxProvider() });
    key = (await readAdminKey(directory))!;
  });
  afterAll(async () => {
    await hangar?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('answers 429 with Retry-After past the burst, counts only good keys, and leaves health open', async () => {
    const get = (authorization?: string) =>
      hangar.app.inject({ method: 'GET', url: '/v1/tasks', headers: authorization === undefined ? {} : { authorization } });
    // Requests with a bad key are refused before they count against the tenant.
    for (let i = 0; i < 5; i += 1) expect((await get('Bearer hgk_0000000000000000_' + 'A'.repeat(43))).statusCode).toBe(401);
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await get(`Bearer ${key}`)).statusCode);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await get(`Bearer ${key}`);
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.json()).toEqual({
      error: { code: 'RATE_LIMITED', message: expect.stringContaining('auth.rateLimit'), details: { requestsPerSecond: 0.5, burst: 3 } },
    });
    expect((await hangar.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});
