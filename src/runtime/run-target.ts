// Where `hangar run` runs its task. A server named with --server; else the Hangar that answers at
// the configured address (server.host:server.port, `hangar serve`'s); else a Hangar of its own, on
// a private data directory removed afterwards, or on --data-dir when given (locked like any owner:
// a directory a server holds is refused). A private directory never meets a server's state.
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { createHangar, type Hangar } from '../app.js';
import { readAdminKey } from '../auth/admin-key.js';
import { resolveDataPaths, type HangarConfig } from '../config/config.js';
import { HangarError } from '../errors/errors.js';
import { removeTreeByDescriptor } from '../sandbox/safe-remove.js';
import { assertModelUpstream } from './model-upstream.js';
import { urlHost } from './port-reservation.js';

export interface RunTarget {
  readonly baseUrl: string;
  /** This command started a Hangar of its own (closed by close()). */
  readonly embedded: boolean;
  /** A line for the user saying where the task runs, when that is not obvious. */
  readonly note?: string;
  /** The API key to send: the admin key of the data directory (embedded, or the configured server's). */
  readonly apiKey?: string;
  /** Stops what this command started (idempotent); a server it only used is left alone. */
  close(): Promise<void>;
}

export interface RunTargetOptions {
  server?: string;
  /** --data-dir: the embedded Hangar's data directory, kept afterwards. */
  dataDir?: string;
  /** Embedded Hangar with the scripted demo model as its upstream (never a running server). */
  demo?: boolean;
  /** The configuration (file, environment, flags) with these overrides on top. */
  loadConfig: (overrides: { dataDir?: string; host?: string; port?: number; logLevel?: string }) => HangarConfig;
  createLogger: (level: HangarConfig['logLevel']) => Logger;
  /** How long the configured address may take to answer /readyz. */
  probeTimeoutMs?: number;
}

type Probe = { state: 'ready' } | { state: 'not-ready'; message: string } | { state: 'absent' };

/** Asks the configured address whether a Hangar answers there and is ready. */
async function probeServer(baseUrl: string, timeoutMs: number): Promise<Probe> {
  let response: Response;
  try {
    response = await fetch(new URL('/readyz', baseUrl), { signal: AbortSignal.timeout(timeoutMs) });
  } catch {
    return { state: 'absent' };
  }
  const body = (await response.json().catch(() => undefined)) as { status?: unknown; error?: { code?: unknown; message?: unknown } } | undefined;
  if (response.status === 200 && body?.status === 'ready') return { state: 'ready' };
  if (response.status === 503 && typeof body?.error?.code === 'string' && typeof body.error.message === 'string') {
    return { state: 'not-ready', message: body.error.message };
  }
  return { state: 'absent' };
}

/** Host mounts under a directory (an unmount that failed at close), from /proc/self/mountinfo. */
function mountsUnder(dir: string): string[] {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[4] ?? '')
      .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`));
  } catch {
    return [];
  }
}

async function startEmbedded(options: RunTargetOptions, privateDir: boolean): Promise<RunTarget> {
  const overrides = { host: '127.0.0.1', port: 0, logLevel: 'warn' };
  // The configuration is checked before a private directory exists: a refusal leaves nothing.
  const checked = options.loadConfig({ ...overrides, ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}) });
  if (options.demo !== true) assertModelUpstream(checked, 'hangar run --demo "<prompt>"');
  let dataDir = options.dataDir;
  if (privateDir) {
    dataDir = mkdtempSync(path.join(tmpdir(), 'hangar-run-'));
    // Sandbox uids traverse the data directory to reach their workspaces.
    chmodSync(dataDir, 0o711);
  }
  const removePrivateDir = async (): Promise<void> => {
    if (!privateDir || dataDir === undefined) return;
    const mounted = mountsUnder(dataDir);
    if (mounted.length > 0) {
      process.stderr.write(`hangar: left ${dataDir} in place: still mounted there: ${mounted.join(', ')}\n`);
      return;
    }
    const { left } = await removeTreeByDescriptor(dataDir);
    if (left.length > 0) process.stderr.write(`hangar: could not remove all of ${dataDir}: ${left.slice(0, 3).join('; ')}\n`);
  };
  let hangar: Hangar;
  try {
    const config = options.loadConfig({ ...overrides, ...(dataDir !== undefined ? { dataDir } : {}) });
    hangar = await createHangar(config, { logger: options.createLogger(config.logLevel), owner: 'hangar run', demo: options.demo === true, reservePort: true });
  } catch (error) {
    await removePrivateDir();
    throw error;
  }
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= hangar.close().finally(removePrivateDir);
    return closing;
  };
  try {
    const baseUrl = await hangar.listen();
    const apiKey = await readAdminKey(resolveDataPaths(hangar.config).dataDir);
    return {
      baseUrl,
      embedded: true,
      ...(apiKey !== undefined ? { apiKey } : {}),
      close,
      ...(options.demo === true ? { note: "· demo mode: the model is Hangar's scripted demo, not Claude; every answer is marked [demo]" } : {}),
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Picks where the task runs and starts what is needed there. */
export async function openRunTarget(options: RunTargetOptions): Promise<RunTarget> {
  if (options.server !== undefined) return { baseUrl: options.server, embedded: false, close: async () => undefined };
  if (options.dataDir === undefined && options.demo !== true) {
    const configured = options.loadConfig({});
    if (configured.server.port === 0) return startEmbedded(options, true);
    const baseUrl = `http://${urlHost(configured.server.host)}:${configured.server.port}`;
    const probe = await probeServer(baseUrl, options.probeTimeoutMs ?? 3_000);
    if (probe.state === 'ready') {
      const apiKey = await readAdminKey(resolveDataPaths(configured).dataDir);
      return {
        baseUrl,
        embedded: false,
        ...(apiKey !== undefined ? { apiKey } : {}),
        note: `· using the Hangar server at ${baseUrl} (--data-dir runs a Hangar of this command's own instead)`,
        close: async () => undefined,
      };
    }
    if (probe.state === 'not-ready') {
      throw new HangarError('NOT_READY', `the Hangar server at ${baseUrl} is not ready: ${probe.message}`);
    }
  }
  return startEmbedded(options, options.dataDir === undefined);
}
