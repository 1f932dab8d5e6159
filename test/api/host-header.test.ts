// DNS rebinding: a loopback-bound API answers only requests whose Host header names it, with 421 and
// Hangar's error body otherwise; the client, which uses the address listen() returned, still works.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHangar, type Hangar } from '../../src/app.js';
import { readAdminKey } from '../../src/auth/admin-key.js';
import { HangarApiError, HangarClient } from '../../src/client/hangar-client.js';
import { parseConfig } from '../../src/config/config.js';
import { createInMemorySandboxProvider } from '../../src/sandbox/providers/in-memory.js';

/** A raw GET with the Host header given (none when undefined, over HTTP/1.0): fetch does not let a caller choose it. */
function getWithHost(baseUrl: string, pathname: string, host: string | undefined): Promise<{ status: number; body: string }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    const version = host === undefined ? 'HTTP/1.0' : 'HTTP/1.1';
    socket.end(`GET ${pathname} ${version}\r\n${host === undefined ? '' : `Host: ${host}\r\n`}Connection: close\r\n\r\n`);
  });
}

async function startHangar(directory: string, server: Record<string, unknown>): Promise<{ hangar: Hangar; baseUrl: string; port: number }> {
  const config = parseConfig({ dataDir: directory, logLevel: 'silent', server: { host: '127.0.0.1', port: 0, ...server } });
  const hangar = await createHangar(config, { logger: pino({ level: 'silent' }), sandboxProvider: createInMemorySandboxProvider() });
  const baseUrl = await hangar.listen();
  return { hangar, baseUrl, port: Number(new URL(baseUrl).port) };
}

describe('API Host header check', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-host-'));
  let hangar: Hangar;
  let baseUrl: string;
  let port: number;

  beforeAll(async () => {
    ({ hangar, baseUrl, port } = await startHangar(path.join(directory, 'default'), {}));
  });
  afterAll(async () => {
    await hangar?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('answers the loopback names at its port', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
      const response = await getWithHost(baseUrl, '/healthz', host);
      expect(response.status, host).toBe(200);
    }
  });

  it('refuses other names, other ports and a missing Host with 421 and the documented error body', async () => {
    for (const host of [
      `evil.example:${port}`,
      'evil.example',
      `127.0.0.1:${port + 1}`,
      '127.0.0.1',
      `localhost.evil.example:${port}`,
      `127.0.0.1@evil.example:${port}`,
      undefined,
    ]) {
      const response = await getWithHost(baseUrl, '/v1/tasks', host);
      expect(response.status, `Host: ${String(host)}`).toBe(421);
      const body = JSON.parse(response.body) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('HOST_NOT_ALLOWED');
      expect(typeof body.error.message).toBe('string');
    }
  });

  it('refuses before routing: unknown paths and POSTs get 421 too', async () => {
    const response = await getWithHost(baseUrl, '/no/such/route', 'rebound.example');
    expect(response.status).toBe(421);
  });

  it('keeps the client working with the address listen() returned', async () => {
    const client = new HangarClient(baseUrl, { apiKey: await readAdminKey(path.join(directory, 'default')) });
    await expect(client.getTask('task_missing')).rejects.toSatisfy((error: unknown) => error instanceof HangarApiError && error.status === 404);
    const health = await fetch(new URL('/healthz', baseUrl));
    expect(health.status).toBe(200);
    await health.body?.cancel();
  });

  it('answers the names in server.allowedHosts, and only those', async () => {
    const custom = await startHangar(path.join(directory, 'custom'), { allowedHosts: ['hangar.internal', 'proxy.internal:443'] });
    try {
      expect((await getWithHost(custom.baseUrl, '/healthz', `hangar.internal:${custom.port}`)).status).toBe(200);
      expect((await getWithHost(custom.baseUrl, '/healthz', 'proxy.internal:443')).status).toBe(200);
      expect((await getWithHost(custom.baseUrl, '/healthz', `proxy.internal:${custom.port}`)).status).toBe(421);
      expect((await getWithHost(custom.baseUrl, '/healthz', `127.0.0.1:${custom.port}`)).status).toBe(421);
    } finally {
      await custom.hangar.close();
    }
  });
});
