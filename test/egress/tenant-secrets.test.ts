// A tenant's own secrets, through Hangar's API in-process with API keys: sandboxes are in-memory and
// their agent is a probe that sends one request through the real egress proxy to an HTTPS server on
// 127.0.0.2 (test/helpers/egress-probe.ts). A tenant's admin sets a secret; the tenant's tasks name
// it and see only a placeholder while the upstream gets the value; the tenant's secret wins over a
// configured one of its name for that tenant only; another tenant can neither name it (400) nor
// list, set or delete it (404); a changed secret reaches later tasks and a deleted one is refused;
// a stored secret given other hosts does not open; no value is in any answer, event, egress log,
// log line or the SQLite files.
import pino from 'pino';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAdminKey } from '../../src/auth/admin-key.js';
import { createHangar, type Hangar } from '../../src/app.js';
import { resolveDataPaths, type HangarConfig } from '../../src/config/config.js';
import {
  databaseBytes,
  probeHangarConfig,
  probeThroughProxy,
  probingSandboxProvider,
  startSecretUpstream,
  type Probe,
  type SecretUpstream,
} from '../helpers/egress-probe.js';
import { useTempDir } from '../helpers/temp-dirs.js';

const stamp = Date.now();
const VALUE = `tenant-secret-${stamp}`;
const NEW_VALUE = `tenant-secret-rotated-${stamp}`;
const SHARED_VALUE = `tenant-shared-${stamp}`;
const CONFIGURED_VALUE = `configured-shared-${stamp}`;
const VALUES = [VALUE, NEW_VALUE, SHARED_VALUE];
/** The variable the configured secret SHARED_TOKEN is read from. */
const CONFIGURED_VARIABLE = 'HANGAR_TEST_TENANT_SECRETS_CONFIGURED';

interface ApiBody {
  id: string;
  status: string;
  error: { code: string; message: string; details?: { limit?: string } };
  tasks: unknown[];
  sessions: unknown[];
  secrets: Array<Record<string, unknown>>;
  token: string;
  name: string;
  hosts: string[];
  inject: unknown;
  createdAt: string;
  updatedAt: string;
}

describe('secrets of a tenant', () => {
  const dataDir = useTempDir('hangar-tenant-secrets-');
  const probes: Probe[] = [];
  const logged: string[] = [];
  /** Every API answer's text, checked for values at the end. */
  const answers: string[] = [];
  const taskIds: string[] = [];
  const keys: Record<string, string> = {};
  let upstream: SecretUpstream;
  let config: HangarConfig;
  let hangar: Hangar;

  const request = async (key: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) => {
    const response = await hangar.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${key}` },
      ...(body !== undefined ? { payload: body as object } : {}),
    });
    answers.push(response.body);
    return { status: response.statusCode, text: response.body, json: (response.body === '' ? {} : response.json()) as ApiBody };
  };
  const ok = async (key: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown): Promise<ApiBody> => {
    const answer = await request(key, method, url, body);
    expect(answer.status, `${method} ${url}: ${answer.text}`).toBeLessThan(300);
    return answer.json;
  };
  /** Runs a task of the key's tenant naming `secrets`; resolves with what its probe saw and the headers the upstream got. */
  const runTask = async (key: string, secrets: string[]) => {
    const [probesBefore, seenBefore] = [probes.length, upstream.seen.length];
    const task = await ok(key, 'POST', '/v1/tasks', { prompt: 'use the token', network: { allowedHosts: [upstream.target], secrets } });
    taskIds.push(task.id);
    expect(probes.length).toBe(probesBefore + 1);
    return { task, probe: probes.at(-1)!, upstreamGot: upstream.seen.length > seenBefore ? upstream.seen.at(-1) : undefined };
  };
  const secret = (hosts: string[], value = VALUE, inject?: unknown) => ({ value, hosts, ...(inject !== undefined ? { inject } : {}) });

  beforeAll(async () => {
    upstream = await startSecretUpstream({ hostname: 'api.tenant.test', directory: dataDir, answer: () => 'ok' });
    process.env[CONFIGURED_VARIABLE] = CONFIGURED_VALUE;
    config = probeHangarConfig(dataDir, upstream, { authMode: 'keys', secrets: { SHARED_TOKEN: { env: CONFIGURED_VARIABLE, hosts: [upstream.target] } } });
    const { runDir } = resolveDataPaths(config);
    hangar = await createHangar(config, {
      // Everything Hangar logs, at debug, kept to check that no value is in it.
      logger: pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _encoding, callback) => callback(void logged.push(chunk.toString())) })),
      sandboxProvider: probingSandboxProvider(dataDir, async (env) => {
        const placeholder = env.DEPLOY_TOKEN ?? env.SHARED_TOKEN;
        const headers: Record<string, string> = placeholder !== undefined ? { authorization: `Bearer ${placeholder}` } : {};
        probes.push({ env, answer: await probeThroughProxy({ env, runDir, dataDir, target: upstream.target, path: '/auth', headers }) });
      }),
    });
    keys.operator = (await readAdminKey(dataDir))!;
    await ok(keys.operator, 'POST', '/v1/tenants', { id: 'acme' });
    await ok(keys.operator, 'POST', '/v1/tenants', { id: 'zeta' });
    await ok(keys.operator, 'POST', '/v1/tenants', { id: 'tiny', policy: { network: { allowedHosts: ['*.example.com'] } } });
    for (const tenantId of ['acme', 'zeta', 'tiny']) {
      keys[tenantId] = (await ok(keys.operator, 'POST', '/v1/keys', { name: `${tenantId} admin`, scopes: ['admin'], tenantId })).token;
    }
    keys.acmeRunner = (await ok(keys.operator, 'POST', '/v1/keys', { name: 'acme runner', scopes: ['run'], tenantId: 'acme' })).token;
  });

  afterAll(async () => {
    await hangar?.close();
    upstream?.close();
    delete process.env[CONFIGURED_VARIABLE];
  });

  it("lets the tenant's admin and the operator set and list a secret, never showing its value; refuses bad ones with 4xx", async () => {
    const set = await request(keys.acme!, 'PUT', '/v1/tenants/acme/secrets/DEPLOY_TOKEN', secret([upstream.target]));
    expect(set.status).toBe(200);
    expect(set.json).toEqual({
      name: 'DEPLOY_TOKEN',
      hosts: [upstream.target],
      inject: 'placeholder',
      createdAt: expect.any(String),
      updatedAt: set.json.createdAt,
    });
    const listed = [{ name: 'DEPLOY_TOKEN', hosts: [upstream.target], inject: 'placeholder', createdAt: set.json.createdAt, updatedAt: set.json.createdAt }];
    expect((await ok(keys.acme!, 'GET', '/v1/tenants/acme/secrets')).secrets).toEqual(listed);
    expect((await ok(keys.operator!, 'GET', '/v1/tenants/acme/secrets')).secrets).toEqual(listed);

    const bad: Array<[string, unknown]> = [
      ['DEPLOY_TOKEN', secret([upstream.target], `${VALUE}\r\nX-Injected: 1`)],
      ['DEPLOY_TOKEN', secret([])],
      ['DEPLOY_TOKEN', secret(['not a host'])],
      ['DEPLOY_TOKEN', secret([upstream.target], VALUE, { header: 'Host' })],
      ['DEPLOY_TOKEN', { ...secret([upstream.target]), file: '/etc/shadow' }],
      ['DEPLOY_TOKEN', { hosts: [upstream.target] }],
      ['PATH', secret([upstream.target])],
      ['1BAD', secret([upstream.target])],
    ];
    for (const [name, body] of bad) {
      const answer = await request(keys.acme!, 'PUT', `/v1/tenants/acme/secrets/${name}`, body);
      expect(answer.status, `${name} ${JSON.stringify(body)}`).toBe(400);
      expect(answer.json.error.code).toBe('VALIDATION_FAILED');
    }
    // Hosts beyond the tenant's policy, as for a secret a request declares.
    const beyond = await request(keys.tiny!, 'PUT', '/v1/tenants/tiny/secrets/DEPLOY_TOKEN', secret([upstream.target]));
    expect(beyond.status).toBe(403);
    expect(beyond.json.error.details?.limit).toBe('network.allowedHosts');
    // Admin keys only.
    const runner = await request(keys.acmeRunner!, 'PUT', '/v1/tenants/acme/secrets/DEPLOY_TOKEN', secret([upstream.target]));
    expect(runner.status).toBe(403);
    expect(runner.json.error.code).toBe('FORBIDDEN');
    expect((await request(keys.operator!, 'GET', '/v1/tenants/ghost/secrets')).json.error.code).toBe('TENANT_NOT_FOUND');
    expect((await ok(keys.acme!, 'GET', '/v1/tenants/acme/secrets')).secrets).toEqual(listed);
  });

  it('gives a task of the tenant naming it only the placeholder; the upstream gets the value', async () => {
    const { task, probe, upstreamGot } = await runTask(keys.acme!, ['DEPLOY_TOKEN']);
    expect(probe.answer).toBe('200 ok');
    expect(upstreamGot?.authorization).toBe(`Bearer ${VALUE}`);
    expect(probe.env.DEPLOY_TOKEN).toMatch(/^hangar-secret-DEPLOY_TOKEN-[0-9a-f]{24}$/);
    expect(JSON.stringify(probe.env)).not.toContain(VALUE);
    const read = await ok(keys.acme!, 'GET', `/v1/tasks/${task.id}`);
    expect((read as unknown as { options: { network: unknown } }).options.network).toEqual({ allowedHosts: [upstream.target], secrets: ['DEPLOY_TOKEN'] });
    const egress = await request(keys.acme!, 'GET', `/v1/tasks/${task.id}/egress`);
    expect(egress.text).toContain('injected DEPLOY_TOKEN');
  });

  it("uses the tenant's secret over a configured one of its name, for that tenant only", async () => {
    await ok(
      keys.acme!,
      'PUT',
      '/v1/tenants/acme/secrets/SHARED_TOKEN',
      secret([upstream.target], SHARED_VALUE, { header: 'X-Api-Key', template: 'Key {value}' }),
    );
    const ofAcme = await runTask(keys.acme!, ['SHARED_TOKEN']);
    expect(ofAcme.upstreamGot?.['x-api-key']).toBe(`Key ${SHARED_VALUE}`);
    // The operator's tenant gets the configured one.
    const ofOperator = await runTask(keys.operator!, ['SHARED_TOKEN']);
    expect(ofOperator.upstreamGot?.authorization).toBe(`Bearer ${CONFIGURED_VALUE}`);
    expect(ofOperator.upstreamGot?.['x-api-key']).toBeUndefined();
    // Another tenant: the configured one, which its policy does not list, is unknown to it (400, no configured names shown).
    const ofZeta = await request(keys.zeta!, 'POST', '/v1/tasks', { prompt: 'hi', network: { allowedHosts: [upstream.target], secrets: ['SHARED_TOKEN'] } });
    expect(ofZeta.status).toBe(400);
    expect(ofZeta.json.error.code).toBe('VALIDATION_FAILED');
    expect(ofZeta.json.error.message).toContain('a configured one (none;');
  });

  it('keeps it from another tenant: naming it is 400 with nothing created; listing, setting and deleting it 404', async () => {
    for (const [url, body] of [
      ['/v1/tasks', { prompt: 'hi', network: { allowedHosts: [upstream.target], secrets: ['DEPLOY_TOKEN'] } }],
      ['/v1/sessions', { pattern: 'hybrid', network: { allowedHosts: [upstream.target], secrets: ['DEPLOY_TOKEN'] } }],
    ] as const) {
      const answer = await request(keys.zeta!, 'POST', url, body);
      expect(answer.status).toBe(400);
      expect(answer.json.error.code).toBe('VALIDATION_FAILED');
      expect(answer.json.error.message).toBe(
        "invalid request: body.network.secrets.0: unknown secret DEPLOY_TOKEN: name one of tenant zeta's secrets (none; " +
          'set with PUT /v1/tenants/zeta/secrets/DEPLOY_TOKEN) or a configured one (none; egress.secrets)',
      );
    }
    expect((await ok(keys.zeta!, 'GET', '/v1/tasks')).tasks).toEqual([]);
    expect((await ok(keys.zeta!, 'GET', '/v1/sessions')).sessions).toEqual([]);
    const before = (await ok(keys.acme!, 'GET', '/v1/tenants/acme/secrets')).secrets;
    for (const [method, url, body] of [
      ['GET', '/v1/tenants/acme/secrets', undefined],
      ['PUT', '/v1/tenants/acme/secrets/DEPLOY_TOKEN', secret([upstream.target], 'zeta-was-here')],
      ['PUT', '/v1/tenants/acme/secrets/NEW_ONE', secret([upstream.target], 'zeta-was-here')],
      ['DELETE', '/v1/tenants/acme/secrets/DEPLOY_TOKEN', undefined],
    ] as const) {
      const answer = await request(keys.zeta!, method, url, body);
      expect(answer.status, `${method} ${url}`).toBe(404);
      expect(answer.json.error.code).toBe('TENANT_NOT_FOUND');
    }
    expect((await ok(keys.acme!, 'GET', '/v1/tenants/acme/secrets')).secrets).toEqual(before);
    expect((await runTask(keys.acme!, ['DEPLOY_TOKEN'])).upstreamGot?.authorization).toBe(`Bearer ${VALUE}`);
  });

  it('gives a changed value to tasks started later; after a delete, naming it is 400', async () => {
    const [before] = (await ok(keys.acme!, 'GET', '/v1/tenants/acme/secrets')).secrets;
    const changed = await ok(keys.acme!, 'PUT', '/v1/tenants/acme/secrets/DEPLOY_TOKEN', secret([upstream.target], NEW_VALUE));
    expect(changed.createdAt).toBe(before!.createdAt);
    expect(changed.updatedAt >= changed.createdAt).toBe(true);
    expect((await runTask(keys.acme!, ['DEPLOY_TOKEN'])).upstreamGot?.authorization).toBe(`Bearer ${NEW_VALUE}`);

    expect((await request(keys.acme!, 'DELETE', '/v1/tenants/acme/secrets/DEPLOY_TOKEN')).status).toBe(204);
    const again = await request(keys.acme!, 'DELETE', '/v1/tenants/acme/secrets/DEPLOY_TOKEN');
    expect(again.status).toBe(404);
    expect(again.json.error.code).toBe('SECRET_NOT_FOUND');
    expect((await ok(keys.acme!, 'GET', '/v1/tenants/acme/secrets')).secrets.map((listed) => listed.name)).toEqual(['SHARED_TOKEN']);
    const named = await request(keys.acme!, 'POST', '/v1/tasks', { prompt: 'hi', network: { allowedHosts: [upstream.target], secrets: ['DEPLOY_TOKEN'] } });
    expect(named.status).toBe(400);
    expect(named.json.error.message).toMatch(/unknown secret DEPLOY_TOKEN: name one of tenant acme's secrets \(SHARED_TOKEN;/);
  });

  it('keeps the value sealed and bound to its hosts: a stored secret given other hosts does not open, and nothing reaches the upstream', async () => {
    const [stored] = await hangar.store.secrets.list({ kind: 'tenant', id: 'acme' });
    expect(stored!.name).toBe('SHARED_TOKEN');
    expect(stored!.use?.hosts).toEqual([upstream.target]);
    expect(Buffer.from(stored!.sealed).toString('latin1')).not.toContain(SHARED_VALUE);
    // Someone who can write the database (not the key) sends it elsewhere.
    await hangar.store.secrets.put([{ ...stored!, use: { ...stored!.use!, hosts: [upstream.target, 'evil.test'] } }]);
    const seenBefore = upstream.seen.length;
    const task = await ok(keys.acme!, 'POST', '/v1/tasks', { prompt: 'hi', network: { allowedHosts: [upstream.target], secrets: ['SHARED_TOKEN'] } });
    taskIds.push(task.id);
    expect(task.status).toBe('failed');
    expect(task.error.message).toMatch(/secret SHARED_TOKEN of tenant acme does not open/);
    expect(upstream.seen.length).toBe(seenBefore);
    await hangar.store.secrets.put([stored!]);
    expect((await runTask(keys.acme!, ['SHARED_TOKEN'])).upstreamGot?.['x-api-key']).toBe(`Key ${SHARED_VALUE}`);
  });

  it('has no value in any answer, event, egress record, log line or the SQLite files', async () => {
    expect(taskIds.length).toBeGreaterThanOrEqual(6);
    for (const id of taskIds) {
      answers.push(JSON.stringify(await hangar.store.events.read(id, { after: 0, limit: 1000 })));
      answers.push(JSON.stringify(await hangar.store.egress.list(id, { limit: 1000 })));
    }
    expect(answers.join('')).toContain('injected SHARED_TOKEN');
    expect(logged.join('')).toContain('tenant secret set');
    for (const value of [...VALUES, CONFIGURED_VALUE]) {
      expect(answers.join(''), value).not.toContain(value);
      expect(logged.join(''), value).not.toContain(value);
      expect(databaseBytes(dataDir), value).not.toContain(value);
    }
    for (const probed of probes) for (const value of VALUES) expect(JSON.stringify(probed.env)).not.toContain(value);
  });
});
