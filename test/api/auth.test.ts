// API keys over HTTP: with auth.mode keys every /v1 request needs a key with the right scope; the
// first admin key is in the data directory; keys are made, listed (never a secret) and revoked, and a
// revoked key is refused at once.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HangarClient } from '../../src/client/hangar-client.js';
import { requestApi } from '../helpers/api-request.js';
import { startHarness, type Harness } from '../helpers/hangar-harness.js';

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('API keys', () => {
  let harness: Harness;
  let admin: string;

  beforeAll(async () => {
    harness = await startHarness({ scenario: { replies: [] }, config: { auth: { mode: 'keys' }, sandbox: { warmPoolSize: 0 } } });
    admin = harness.apiKey!;
  });
  afterAll(async () => {
    await harness?.close();
  });

  const call = (method: string, route: string, key?: string, body?: unknown, header: 'authorization' | 'x-api-key' = 'authorization') =>
    requestApi(harness.baseUrl, method, route, { key, body, header });

  it('writes the first admin key to the data directory, readable by root only', async () => {
    expect(admin).toMatch(/^hgk_/);
    expect((await stat(path.join(harness.dataDir, 'admin-key'))).mode & 0o777).toBe(0o600);
  });

  it('answers 401 without a key, with a wrong one, and with a made-up one; health and the document stay open', async () => {
    const none = await call('GET', '/v1/tasks');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="hangar"');
    expect(none.body?.error).toEqual({ code: 'UNAUTHORIZED', message: expect.stringContaining('HANGAR_API_KEY') });
    expect((await call('GET', '/v1/tasks', 'not-a-key')).status).toBe(401);
    expect((await call('GET', '/v1/tasks', `${admin.slice(0, -4)}AAAA`)).status).toBe(401);
    expect((await call('GET', '/v1/tasks', admin)).status).toBe(200);
    expect((await call('GET', '/v1/tasks', admin, undefined, 'x-api-key')).status).toBe(200);
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/openapi.json')).status).toBe(200);
  });

  it('lets each scope do its own: read only GETs, run tasks and sessions, admin keys', async () => {
    const reader = (await harness.client.createApiKey({ name: 'reader', scopes: ['read'] })).token;
    const runner = (await harness.client.createApiKey({ name: 'runner', scopes: ['run'] })).token;
    expect((await call('GET', '/v1/sessions', reader)).status).toBe(200);
    const refused = await call('POST', '/v1/sessions', reader, { pattern: 'long-running' });
    expect(refused.status).toBe(403);
    expect(refused.body?.error).toEqual({ code: 'FORBIDDEN', message: expect.stringMatching(/has scopes read; POST \/v1\/sessions needs run/) });
    const created = await call('POST', '/v1/sessions', runner, { pattern: 'long-running' });
    expect(created.status).toBe(201);
    expect((await call('GET', '/v1/keys', runner)).status).toBe(403);
    expect((await call('POST', '/v1/keys', runner, { name: 'escalate', scopes: ['admin'] })).status).toBe(403);
    // The matched route decides, not the raw path.
    expect([403, 404]).toContain((await call('GET', '/v1/%6beys', runner)).status);
    expect((await call('DELETE', `/v1/sessions/${created.body!.id as string}`, runner)).status).toBe(200);
  });

  it('lists keys without secrets, refuses a revoked key at once, and keeps the last admin key', async () => {
    const made = await harness.client.createApiKey({ name: 'short-lived', scopes: ['run', 'read'] });
    expect(made.key).toMatchObject({ name: 'short-lived', scopes: ['run', 'read'], revokedAt: null });
    const client = new HangarClient(harness.baseUrl, { apiKey: made.token });
    expect(await client.listTasks()).toMatchObject({ tasks: expect.any(Array) });
    const listed = await call('GET', '/v1/keys', admin);
    expect(JSON.stringify(listed.body)).not.toContain(made.token.slice(21));
    expect(JSON.stringify(listed.body)).not.toContain('secretHash');
    await harness.client.revokeApiKey(made.key.id);
    await expect(client.listTasks()).rejects.toMatchObject({ status: 401, code: 'UNAUTHORIZED', message: expect.stringContaining('revoked') });
    const adminId = admin.slice(4, 20);
    expect((await call('DELETE', `/v1/keys/${adminId}`, admin)).body?.error?.code).toBe('CONFLICT');
    expect((await call('DELETE', '/v1/keys/0000000000000000', admin)).status).toBe(404);
    // Another admin first, then the first one may go.
    const second = await harness.client.createApiKey({ name: 'second admin', scopes: ['admin'] });
    expect((await call('DELETE', `/v1/keys/${adminId}`, second.token)).status).toBe(200);
    expect((await call('GET', '/v1/tasks', admin)).status).toBe(401);
  });
});
