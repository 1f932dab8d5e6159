// A tenant's key holder attacking what tenancy guards, through Hangar's API in-process with API keys:
// sandboxes are in-memory and their agent is a probe that sends one request through the real egress
// proxy to an HTTPS server on 127.0.0.2 (test/helpers/egress-probe.ts). Each attempt must fail and
// leave the installation's secrets and the other tenants untouched. Also: a request with no key at
// all, whose request target is absolute-form (`GET http://host/v1/keys`), is asked for one.
import { once } from 'node:events';
import { connect, type AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAdminKey } from '../../src/auth/admin-key.js';
import { createHangar, type Hangar } from '../../src/app.js';
import { resolveDataPaths } from '../../src/config/config.js';
import { probeHangarConfig, probeThroughProxy, probingSandboxProvider, startSecretUpstream, type Probe, type SecretUpstream } from '../helpers/egress-probe.js';
import { useTempDir } from '../helpers/temp-dirs.js';

const stamp = Date.now();
const CONFIGURED_VALUE = `configured-installation-${stamp}`;
const OWN_VALUE = `tenant-own-${stamp}`;
/** The variable the configured secret SHARED_TOKEN is read from. */
const CONFIGURED_VARIABLE = 'HANGAR_TEST_TENANCY_ATTACKS_CONFIGURED';

interface ApiBody {
  id: string;
  status: string;
  token: string;
  error: { code: string; message: string; details?: { limit?: string } };
  messages: Array<{ seq: number; status: string; error: { code: string; message: string } | null }>;
}

describe('attacks on tenancy by a tenant key holder', () => {
  const dataDir = useTempDir('hangar-tenancy-attacks-');
  const probes: Probe[] = [];
  const keys: Record<string, string> = {};
  /** Set by a test: the next probe waits for it before sending its request. */
  let gate: Promise<void> | undefined;
  let upstream: SecretUpstream;
  let hangar: Hangar;

  const request = async (key: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) => {
    const response = await hangar.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${key}` },
      ...(body !== undefined ? { payload: body as object } : {}),
    });
    return { status: response.statusCode, text: response.body, json: (response.body === '' ? {} : response.json()) as ApiBody };
  };
  const ok = async (key: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown): Promise<ApiBody> => {
    const answer = await request(key, method, url, body);
    expect(answer.status, `${method} ${url}: ${answer.text}`).toBeLessThan(300);
    return answer.json;
  };
  /** The session's messages once none is queued or running. */
  const settledMessages = async (key: string, sessionId: string): Promise<ApiBody['messages']> => {
    for (;;) {
      const { messages } = await ok(key, 'GET', `/v1/sessions/${sessionId}/messages`);
      if (messages.every((message) => message.status !== 'queued' && message.status !== 'running')) return messages;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  beforeAll(async () => {
    upstream = await startSecretUpstream({ hostname: 'api.attack.test', directory: dataDir, answer: () => 'ok' });
    process.env[CONFIGURED_VARIABLE] = CONFIGURED_VALUE;
    const config = probeHangarConfig(dataDir, upstream, {
      authMode: 'keys',
      secrets: { SHARED_TOKEN: { env: CONFIGURED_VARIABLE, hosts: [upstream.target] } },
    });
    const { runDir } = resolveDataPaths(config);
    hangar = await createHangar(config, {
      logger: pino({ level: 'silent' }),
      sandboxProvider: probingSandboxProvider(dataDir, async (env) => {
        await gate;
        const placeholder = env.SHARED_TOKEN;
        const headers: Record<string, string> = placeholder !== undefined ? { authorization: `Bearer ${placeholder}` } : {};
        probes.push({ env, answer: await probeThroughProxy({ env, runDir, dataDir, target: upstream.target, path: '/auth', headers }) });
      }),
    });
    keys.operator = (await readAdminKey(dataDir))!;
    // zeta's policy lists no configured secret: SHARED_TOKEN of the installation is not its to use.
    await ok(keys.operator, 'POST', '/v1/tenants', { id: 'zeta' });
    keys.zeta = (await ok(keys.operator, 'POST', '/v1/keys', { name: 'zeta admin', scopes: ['admin'], tenantId: 'zeta' })).token;
  });

  afterAll(async () => {
    await hangar?.close();
    upstream?.close();
    delete process.env[CONFIGURED_VARIABLE];
  });

  it("gets no configured secret by naming its own secret of that name, then deleting it before the sandbox's set-up", async () => {
    const network = { allowedHosts: [upstream.target], secrets: ['SHARED_TOKEN'] };
    // Refused outright: the configured one is not zeta's, so to zeta it is a name like any unknown one (nothing said of its existence).
    const direct = await request(keys.zeta!, 'POST', '/v1/sessions', { pattern: 'hybrid', network });
    const unknown = await request(keys.zeta!, 'POST', '/v1/sessions', { pattern: 'hybrid', network: { ...network, secrets: ['NO_SUCH_TOKEN'] } });
    expect([direct.status, unknown.status]).toEqual([400, 400]);
    expect(direct.json.error.code).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(direct.json)).not.toContain(CONFIGURED_VARIABLE);
    expect(direct.json.error.message.replaceAll('SHARED_TOKEN', 'X')).toBe(unknown.json.error.message.replaceAll('NO_SUCH_TOKEN', 'X'));

    // zeta makes a secret of its own by that name, and a hybrid session (a fresh sandbox per turn) naming it.
    await ok(keys.zeta!, 'PUT', '/v1/tenants/zeta/secrets/SHARED_TOKEN', { value: OWN_VALUE, hosts: [upstream.target] });
    let open!: () => void;
    gate = new Promise((resolve) => (open = resolve));
    const session = await ok(keys.zeta!, 'POST', '/v1/sessions', { pattern: 'hybrid', network, prompt: 'one' });
    // The second message is queued while the name is still zeta's own; then zeta deletes its secret.
    await ok(keys.zeta!, 'POST', `/v1/sessions/${session.id}/messages`, { prompt: 'two' });
    expect((await request(keys.zeta!, 'DELETE', '/v1/tenants/zeta/secrets/SHARED_TOKEN')).status).toBe(204);
    open();
    const messages = await settledMessages(keys.zeta!, session.id);
    gate = undefined;

    // The first turn's sandbox had zeta's own value; the second's set-up refuses the configured one.
    expect(upstream.seen.map((headers) => headers.authorization)).toEqual([`Bearer ${OWN_VALUE}`]);
    expect(messages.map((message) => message.error?.code ?? null)[1]).toBe('POLICY_VIOLATION');
    expect(messages[1]!.error!.message).toMatch(/network\.secrets/);
    expect(JSON.stringify(messages)).not.toContain(CONFIGURED_VALUE);
  });

  it('asks for a key on every /v1 route however the request names its path (absolute-form request targets)', async () => {
    await hangar.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = hangar.app.server.address() as AddressInfo;
    /** The raw answer to one HTTP/1.1 request with `target` as its request target, and no key. */
    const rawRequest = async (method: string, target: string, body?: string): Promise<string> => {
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      const head = [`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close'];
      if (body !== undefined) head.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
      socket.end(`${head.join('\r\n')}\r\n\r\n${body ?? ''}`);
      const chunks: Buffer[] = [];
      for await (const chunk of socket) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    };
    for (const target of [`http://127.0.0.1:${port}/v1/keys`, 'http://elsewhere.test/v1/tenants', `https://127.0.0.1:${port}/v1/tasks`]) {
      expect((await rawRequest('GET', target)).split('\r\n')[0], target).toBe('HTTP/1.1 401 Unauthorized');
    }
    const made = await rawRequest('POST', `http://127.0.0.1:${port}/v1/keys`, JSON.stringify({ name: 'stolen', scopes: ['admin'] }));
    expect(made.split('\r\n')[0]).toBe('HTTP/1.1 401 Unauthorized');
    expect(made).not.toContain('hgk_');
    expect((await hangar.store.apiKeys.list()).map((key) => key.name)).not.toContain('stolen');
  });
});
