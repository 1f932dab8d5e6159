// Startup order and readiness: the data directory's lock and the port come before anything else
// (a refused startup leaves nothing behind), and /readyz is 503 with the reason when sandboxes
// cannot run on this host.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createHangar, type Hangar } from '../../src/app.js';
import { parseConfig } from '../../src/config/config.js';
import { HangarError } from '../../src/errors/errors.js';
import { acquireDataDirLock } from '../../src/runtime/data-dir-lock.js';
import { createInMemorySandboxProvider } from '../../src/sandbox/providers/in-memory.js';
import type { SandboxProvider } from '../../src/sandbox/sandbox-provider.js';

const logger = pino({ level: 'silent' });

/** The in-memory provider, with a host check that fails as the local one does as non-root. */
function unrunnableProvider(): SandboxProvider {
  const inner = createInMemorySandboxProvider();
  return {
    name: 'unrunnable',
    create: (spec) => inner.create(spec),
    close: () => inner.close(),
    checkHost: async () => {
      throw new HangarError('SANDBOX_UNAVAILABLE', 'the local sandbox provider must run as root');
    },
  };
}

describe('startup and readiness', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'hangar-ready-'));
  const hangars: Hangar[] = [];
  afterAll(async () => {
    for (const hangar of hangars) await hangar.close();
    rmSync(directory, { recursive: true, force: true });
  });

  const start = async (name: string, sandboxProvider: SandboxProvider): Promise<Hangar> => {
    const config = parseConfig({ dataDir: path.join(directory, name), logLevel: 'silent', server: { port: 0 } });
    const hangar = await createHangar(config, { logger, sandboxProvider });
    hangars.push(hangar);
    return hangar;
  };

  it('answers /readyz 503 SANDBOX_UNAVAILABLE with the reason when sandboxes cannot run here', async () => {
    const hangar = await start('unrunnable', unrunnableProvider());
    const response = await hangar.app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({
      error: { code: 'SANDBOX_UNAVAILABLE', message: 'sandboxes cannot run on this host: the local sandbox provider must run as root' },
    });
    // Liveness is another question: the process answers.
    expect((await hangar.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('answers /readyz 200 when the provider can run sandboxes', async () => {
    const provider = createInMemorySandboxProvider();
    const hangar = await start('runnable', {
      name: 'checked',
      create: (spec) => provider.create(spec),
      close: () => provider.close(),
      checkHost: async () => undefined,
    });
    const response = await hangar.app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: 'ready' });
  });

  it('refuses a second Hangar on the same data directory before touching it', async () => {
    const first = await start('shared', createInMemorySandboxProvider());
    const config = parseConfig({ dataDir: first.config.dataDir, logLevel: 'silent', server: { port: 0 } });
    await expect(createHangar(config, { logger, sandboxProvider: createInMemorySandboxProvider() })).rejects.toMatchObject({
      code: 'DATA_DIR_IN_USE',
      message: expect.stringContaining(`pid ${process.pid}`) as unknown as string,
    });
    // The first still works.
    expect((await first.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('fails on a port in use before anything exists, and releases the data directory', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const dataDir = path.join(directory, 'port-taken');
    let closedProvider = false;
    const inner = createInMemorySandboxProvider();
    const provider: SandboxProvider = {
      name: 'watched',
      create: (spec) => inner.create(spec),
      close: async () => {
        closedProvider = true;
        await inner.close();
      },
    };
    try {
      const config = parseConfig({ dataDir, logLevel: 'silent', server: { host: '127.0.0.1', port } });
      await expect(createHangar(config, { logger, sandboxProvider: provider, reservePort: true })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      blocker.close();
    }
    // Nothing was started: no database, no gateway socket, no sandbox root; only the lock file.
    expect(readdirSync(dataDir).sort()).toEqual(['hangar.lock']);
    expect(existsSync(path.join(dataDir, 'run'))).toBe(false);
    expect(closedProvider).toBe(false);
    acquireDataDirLock(dataDir, 'after').release();
  });

  it('listens on the port it reserved', async () => {
    const config = parseConfig({ dataDir: path.join(directory, 'reserved'), logLevel: 'silent', server: { host: '127.0.0.1', port: 0 } });
    const hangar = await createHangar(config, { logger, sandboxProvider: createInMemorySandboxProvider(), reservePort: true });
    hangars.push(hangar);
    const url = await hangar.listen();
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
  });
});
