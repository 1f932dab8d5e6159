// Secrets a task or session declares with their values, through Hangar's API in-process: sandboxes
// are in-memory (tar for checkpoints) and their agent is a stand-in that, instead of the CLI, sends
// one request through the egress proxy with the environment the agent got, as curl would: to an
// HTTPS server on 127.0.0.2 (allowed by egress.allowPrivateNetworks) named api.secret.test
// (test/helpers/egress-probe.ts). The server sees the value; the agent's environment, the records, answers, events, the egress log,
// Hangar's log and the SQLite files never do; the values are stored sealed, follow a fork, come
// back after a restart and go with their task or session; bad declarations are 400 before anything
// is created.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { eventually } from '../helpers/hangar-harness.js';
import { useTempDir } from '../helpers/temp-dirs.js';

const TASK_VALUE = `task-secret-${Date.now()}`;
const SESSION_VALUE = `session-secret-${Date.now()}`;

/** The fields of API answers this test reads. */
interface ApiBody {
  id: string;
  error: { code: string };
  options: { network: { secrets: unknown } };
  tasks: unknown[];
  sessions: unknown[];
}

describe('secrets declared with values', () => {
  const dataDir = useTempDir('hangar-declared-secrets-');
  const probes: Probe[] = [];
  const logged: string[] = [];
  let upstream: SecretUpstream;
  let seen: SecretUpstream['seen'];
  let target: string;
  let config: HangarConfig;
  let hangar: Hangar;

  /** Runs the request an agent with `env` would send: GET /auth with the placeholder of DECLARED_TOKEN, through the proxy, trusting Hangar's CA. */
  const probe = async (env: Record<string, string>): Promise<void> => {
    const headers: Record<string, string> = env.DECLARED_TOKEN !== undefined ? { authorization: `Bearer ${env.DECLARED_TOKEN}` } : {};
    probes.push({ env, answer: await probeThroughProxy({ env, runDir: resolveDataPaths(config).runDir, dataDir, target, path: '/auth', headers }) });
  };

  const startHangar = async (): Promise<Hangar> =>
    createHangar(config, {
      // Everything Hangar logs, at debug, kept to check that no value is in it.
      logger: pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _encoding, callback) => callback(void logged.push(chunk.toString())) })),
      sandboxProvider: probingSandboxProvider(dataDir, probe),
    });
  const request = async (method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown): Promise<{ status: number; text: string; json: ApiBody }> => {
    const response = await hangar.app.inject({ method, url, ...(body !== undefined ? { payload: body as object } : {}) });
    return { status: response.statusCode, text: response.body, json: (response.body === '' ? {} : response.json()) as ApiBody };
  };
  const network = (secret: Record<string, unknown>) => ({ allowedHosts: [target], secrets: [{ name: 'DECLARED_TOKEN', hosts: [target], ...secret }] });
  /** Sends a message and waits until its turn is over; resolves with the probe it made. */
  const turn = async (sessionId: string): Promise<Probe> => {
    const before = probes.length;
    const sent = await request('POST', `/v1/sessions/${sessionId}/messages`, { prompt: 'use the token' });
    expect(sent.status).toBe(202);
    await eventually(async () => {
      const message = await hangar.store.messages.get(sent.json.id);
      return message?.status !== 'queued' && message?.status !== 'running' ? true : undefined;
    });
    expect(probes.length).toBe(before + 1);
    return probes.at(-1)!;
  };

  beforeAll(async () => {
    upstream = await startSecretUpstream({
      hostname: 'api.secret.test',
      directory: dataDir,
      answer: (headers) => (headers.authorization === `Bearer ${TASK_VALUE}` || headers['x-api-key'] === `Key ${SESSION_VALUE}` ? 'auth-ok' : 'auth-bad'),
    });
    ({ seen, target } = upstream);
    config = probeHangarConfig(dataDir, upstream, {
      authMode: 'none',
      secrets: { CONFIGURED: { env: 'HANGAR_TEST_UNSET_VARIABLE', hosts: ['api.secret.test'] } },
    });
    hangar = await startHangar();
  });

  afterAll(async () => {
    await hangar?.close();
    upstream?.close();
  });

  it('refuses bad declarations with 400 before anything is created, never echoing a value', async () => {
    const bad: Array<Record<string, unknown>> = [
      { name: 'DECLARED_TOKEN', file: '/etc/shadow', hosts: [target] },
      { name: 'PATH', value: TASK_VALUE, hosts: [target] },
      { name: 'DECLARED_TOKEN', value: `${TASK_VALUE}\nX-Injected: 1`, hosts: [target] },
      { name: 'DECLARED_TOKEN', value: 'x'.repeat(16 * 1024 + 1), hosts: [target] },
      { name: 'DECLARED_TOKEN', value: TASK_VALUE, hosts: ['not a host'] },
      { name: 'CONFIGURED', value: TASK_VALUE, hosts: ['evil.test'] },
      { name: 'DECLARED_TOKEN', value: TASK_VALUE, hosts: [target], inject: { header: 'Host' } },
    ];
    for (const secret of bad) {
      for (const [url, body] of [
        ['/v1/tasks', { prompt: 'hi', network: { secrets: [secret] } }],
        ['/v1/sessions', { pattern: 'hybrid', network: { secrets: [secret] } }],
      ] as const) {
        const answer = await request('POST', url, body);
        expect(answer.status, JSON.stringify(secret)).toBe(400);
        expect(answer.json.error.code).toBe('VALIDATION_FAILED');
        expect(answer.text).not.toContain(TASK_VALUE);
      }
    }
    expect((await request('GET', '/v1/tasks')).json.tasks).toEqual([]);
    expect((await request('GET', '/v1/sessions')).json.sessions).toEqual([]);
  });

  it("puts a task's value into its request upstream; the agent, the record, events, the egress log and the database never hold it", async () => {
    const answer = await request('POST', '/v1/tasks', { prompt: 'use the token', network: network({ value: TASK_VALUE }) });
    expect(answer.status).toBe(200);
    const task = answer.json;
    expect(task.options.network).toEqual({ allowedHosts: [target], secrets: [{ name: 'DECLARED_TOKEN', hosts: [target] }] });
    const { env, answer: probed } = probes.at(-1)!;
    expect(probed).toBe('200 auth-ok');
    expect(seen.at(-1)!.authorization).toBe(`Bearer ${TASK_VALUE}`);
    expect(env.DECLARED_TOKEN).toMatch(/^hangar-secret-DECLARED_TOKEN-[0-9a-f]{24}$/);
    expect(JSON.stringify(env)).not.toContain(TASK_VALUE);
    expect(answer.text).not.toContain(TASK_VALUE);
    expect((await request('GET', `/v1/tasks/${task.id}`)).text).not.toContain(TASK_VALUE);
    expect((await request('GET', `/v1/tasks/${task.id}/egress`)).text).toContain('injected DECLARED_TOKEN');
    expect((await request('GET', `/v1/tasks/${task.id}/egress`)).text).not.toContain(TASK_VALUE);
    expect(JSON.stringify(await hangar.store.events.read(task.id, { after: 0, limit: 1000 }))).not.toContain(TASK_VALUE);
    // A task runs once: its secrets went with it.
    expect(await hangar.store.secrets.owners('task')).toEqual([]);
    expect(databaseBytes(dataDir)).not.toContain(TASK_VALUE);
  });

  it("keeps a session's value sealed, opens it for every turn, copies it to a fork, has it back after a restart and deletes it on close", async () => {
    const created = await request('POST', '/v1/sessions', {
      pattern: 'hybrid',
      files: { 'README.md': 'hello' },
      network: network({ value: SESSION_VALUE, inject: { header: 'X-Api-Key', template: 'Key {value}' } }),
    });
    expect(created.status).toBe(201);
    const session = created.json;
    expect(session.options.network.secrets).toEqual([{ name: 'DECLARED_TOKEN', hosts: [target], inject: { header: 'X-Api-Key', template: 'Key {value}' } }]);
    expect(created.text).not.toContain(SESSION_VALUE);
    const stored = await hangar.store.secrets.list({ kind: 'session', id: session.id });
    expect(stored.map((secret) => secret.name)).toEqual(['DECLARED_TOKEN']);
    expect(Buffer.from(stored[0]!.sealed).toString('latin1')).not.toContain(SESSION_VALUE);

    expect((await turn(session.id)).answer).toBe('200 auth-ok');
    expect(seen.at(-1)!['x-api-key']).toBe(`Key ${SESSION_VALUE}`);

    const forked = await request('POST', `/v1/sessions/${session.id}/fork`, {});
    expect(forked.status).toBe(201);
    expect((await turn(forked.json.id)).answer).toBe('200 auth-ok');
    expect(seen.at(-1)!['x-api-key']).toBe(`Key ${SESSION_VALUE}`);

    // A restart: the key is read from the data directory again, the session's secret opens again,
    // and a task's secret a crash left behind is deleted.
    await hangar.store.secrets.put([
      {
        owner: { kind: 'task', id: 'task_left_by_a_crash' },
        name: 'X',
        sealed: new Uint8Array([1]),
        createdAt: '2026-01-01T00:00:00.000Z',
        updatedAt: '2026-01-01T00:00:00.000Z',
      },
    ]);
    await hangar.close();
    hangar = await startHangar();
    expect(await hangar.store.secrets.owners('task')).toEqual([]);
    expect((await turn(session.id)).answer).toBe('200 auth-ok');
    expect(seen.at(-1)!['x-api-key']).toBe(`Key ${SESSION_VALUE}`);

    for (const probed of probes) expect(JSON.stringify(probed.env)).not.toContain(SESSION_VALUE);
    for (const url of [`/v1/sessions/${session.id}`, `/v1/sessions/${forked.json.id}`, '/v1/sessions']) {
      expect((await request('GET', url)).text).not.toContain(SESSION_VALUE);
    }
    expect(JSON.stringify(await hangar.store.events.read(session.id, { after: 0, limit: 1000 }))).not.toContain(SESSION_VALUE);

    expect((await request('DELETE', `/v1/sessions/${session.id}`)).status).toBe(200);
    expect(await hangar.store.secrets.list({ kind: 'session', id: session.id })).toEqual([]);
    expect((await hangar.store.secrets.list({ kind: 'session', id: forked.json.id })).map((secret) => secret.name)).toEqual(['DECLARED_TOKEN']);
    expect(databaseBytes(dataDir)).not.toContain(SESSION_VALUE);
  });

  it('logs no value, from the requests refused to the restart', () => {
    expect(logged.length).toBeGreaterThan(10);
    expect(logged.join('')).toContain('/v1/sessions');
    for (const value of [TASK_VALUE, SESSION_VALUE]) expect(logged.join('')).not.toContain(value);
  });
});
