// Starts a real Hangar (SQLite file, local bubblewrap sandboxes, model gateway, HTTP API on
// loopback) in front of Hangar's scripted model server, for end-to-end tests. The sandbox provider
// is wrapped only to remember which sandboxes and processes each task had, so tests can check that
// nothing is left behind.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createHangar, type Hangar } from '../../src/app.js';
import { readAdminKey } from '../../src/auth/admin-key.js';
import { HangarClient, type SessionView } from '../../src/client/hangar-client.js';
import { parseConfig, resolveDataPaths } from '../../src/config/config.js';
import type { Scenario } from '../../src/model/scenario.js';
import { startScriptedModelServer, type ScriptedModelServer } from '../../src/model/scripted-model-server.js';
import { createLocalSandboxProvider, type LocalSandbox } from '../../src/sandbox/providers/local/index.js';
import type { Sandbox, SandboxProvider } from '../../src/sandbox/sandbox-provider.js';

export interface HarnessOptions {
  scenario: Scenario;
  /** Configuration layered over the harness defaults. */
  config?: Record<string, unknown>;
  /** The real key the gateway injects; tests check it never reaches a sandbox. */
  upstreamApiKey?: string;
  /**
   * Parent cgroup of the harness's sandboxes, relative to each hierarchy root; config.sandbox.hostLimits
   * are set on it. Default: the host's real `hangar` parent, shared with everything else on the host,
   * whose ceilings a test must never change (hostLimits are refused without a cgroupParent of its own).
   * The test removes its parent's directories when done.
   */
  cgroupParent?: string;
}

export interface SandboxRecord {
  sandbox: Sandbox;
  pids: number[];
  /** Every process spawned in the sandbox: its host pid, command, and whether a launcher made ahead of need ran it. */
  spawned: Array<{ pid: number; command: string; warm: boolean }>;
}

export interface Harness {
  hangar: Hangar;
  model: ScriptedModelServer;
  client: HangarClient;
  /** The admin key the client sends, with config auth.mode keys (undefined with the harness default, none). */
  apiKey: string | undefined;
  baseUrl: string;
  dataDir: string;
  /** Sandboxes created so far, by sandbox id (a task's is in its record: sandbox.sandboxId). */
  sandboxes: Map<string, SandboxRecord>;
  /** Resolves once the sandbox provider's background work (warm pool, image pairs, releases) is done. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** Records every sandbox the provider creates and every process it spawns. */
function recordingProvider(inner: SandboxProvider, sandboxes: Map<string, SandboxRecord>): SandboxProvider {
  return {
    name: inner.name,
    async create(spec) {
      const sandbox = await inner.create(spec);
      const record: SandboxRecord = { sandbox, pids: [], spawned: [] };
      sandboxes.set(sandbox.id, record);
      const spawn = sandbox.spawn.bind(sandbox);
      return Object.assign(Object.create(sandbox) as Sandbox, {
        spawn: (request: Parameters<Sandbox['spawn']>[0]) => {
          const warm = (sandbox as Partial<LocalSandbox>).warmLauncherReady === true;
          const child = spawn(request);
          const pid = (child as { pid?: number }).pid;
          if (pid !== undefined) {
            record.pids.push(pid);
            record.spawned.push({ pid, command: request.command, warm });
          }
          return child;
        },
      });
    },
    ...(inner.prewarm !== undefined ? { prewarm: inner.prewarm.bind(inner) } : {}),
    close: () => inner.close(),
  };
}

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const asked = (options.config?.sandbox as { hostLimits?: object } | undefined)?.hostLimits;
  if (options.cgroupParent === undefined && asked !== undefined && Object.keys(asked).length > 0) {
    throw new Error("harness: sandbox.hostLimits need a cgroupParent of the test's own (the host's `hangar` parent is shared)");
  }
  const dataDir = mkdtempSync(path.join(tmpdir(), 'hangar-e2e-'));
  // Sandbox uids must traverse the data directory to reach their bind-mount sources.
  chmodSync(dataDir, 0o711);
  const model = await startScriptedModelServer({ scenario: options.scenario, host: '127.0.0.1', port: 0, logger: false });
  const { gateway: gatewayConfig, ...otherConfig } = options.config ?? {};
  const config = parseConfig({
    dataDir,
    logLevel: 'silent',
    server: { host: '127.0.0.1', port: 0 },
    // Tests of other things talk to the API without keys; test/api/auth.test.ts turns them on.
    auth: { mode: 'none' },
    agent: { maxRetries: 2 },
    ...otherConfig,
    // A test's gateway settings go on top of the scripted model as its upstream, never in its place:
    // a test must not reach the real provider (nor look its name up).
    gateway: { ...(gatewayConfig as object | undefined), upstreamUrl: model.url, upstreamApiKey: options.upstreamApiKey ?? 'sk-ant-test-upstream-key' },
  });
  // HANGAR_TEST_LOG=<level> writes each harness's log to <dataDir>.log (kept after the test) for debugging.
  const logLevel = process.env.HANGAR_TEST_LOG;
  const logger = logLevel === undefined ? pino({ level: 'silent' }) : pino({ level: logLevel }, pino.destination(`${dataDir}.log`));
  const sandboxes = new Map<string, SandboxRecord>();
  const local = createLocalSandboxProvider({
    ...(options.cgroupParent !== undefined ? { cgroupParent: options.cgroupParent, hostLimits: config.sandbox.hostLimits ?? {} } : {}),
    rootDir: resolveDataPaths(config).sandboxRoot,
    uidRangeStart: config.sandbox.uidRangeStart,
    uidRangeSize: config.sandbox.uidRangeSize,
    workspaceBacking: config.sandbox.workspaceBacking,
    warmPoolSize: config.sandbox.warmPoolSize,
    logger: logger.child({ component: 'sandbox' }),
  });
  const provider = recordingProvider(local, sandboxes);
  const hangar = await createHangar(config, { logger, sandboxProvider: provider });
  const baseUrl = await hangar.listen();
  const apiKey = config.auth.mode === 'keys' ? await readAdminKey(dataDir) : undefined;
  return {
    hangar,
    model,
    client: new HangarClient(baseUrl, { apiKey }),
    apiKey,
    baseUrl,
    dataDir,
    sandboxes,
    settled: () => local.settled(),
    async close() {
      await hangar.close();
      await model.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Sandboxes in which the Claude Code CLI was started, with the CLI's pids. */
export function cliSpawns(harness: Harness): Array<{ sandboxId: string; pid: number }> {
  const spawns: Array<{ sandboxId: string; pid: number }> = [];
  for (const [sandboxId, record] of harness.sandboxes) {
    for (const spawn of record.spawned) if (spawn.command.endsWith('/claude')) spawns.push({ sandboxId, pid: spawn.pid });
  }
  return spawns;
}

/** Prompts (user text) the model saw in a main request, oldest first. */
export function userTexts(body: unknown): string[] {
  const messages = (body as { messages?: Array<{ role: string; content: unknown }> }).messages ?? [];
  const texts: string[] = [];
  for (const message of messages) {
    if (message.role !== 'user') continue;
    if (typeof message.content === 'string') texts.push(message.content);
    else if (Array.isArray(message.content)) {
      for (const block of message.content as Array<{ type: string; text?: string }>)
        if (block.type === 'text' && block.text && !block.text.startsWith('<system-reminder>')) texts.push(block.text);
    }
  }
  return texts;
}

/** Polls until `check` returns a value, or fails after the timeout. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, label = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The text of the tool_result blocks the CLI sent back to the model, in order. */
export function toolResultsSent(model: ScriptedModelServer): string[] {
  const results: string[] = [];
  const seen = new Set<string>();
  for (const request of model.requests) {
    if (request.kind !== 'main') continue;
    const body = request.body as { messages?: Array<{ role: string; content: unknown }> };
    for (const message of body.messages ?? []) {
      if (message.role !== 'user' || !Array.isArray(message.content)) continue;
      for (const block of message.content as Array<{ type: string; tool_use_id?: string; content?: unknown }>) {
        if (block.type !== 'tool_result' || block.tool_use_id === undefined || seen.has(block.tool_use_id)) continue;
        seen.add(block.tool_use_id);
        const content = block.content;
        results.push(
          typeof content === 'string'
            ? content
            : Array.isArray(content)
              ? (content as Array<{ type: string; text?: string }>).map((part) => part.text ?? '').join('')
              : '',
        );
      }
    }
  }
  return results;
}

/**
 * Waits until a session has at least `turns` turns and is at rest (idle or hibernated); fails at
 * once when the session failed.
 */
export async function waitForTurns(client: HangarClient, sessionId: string, turns: number, timeoutMs = 90_000): Promise<SessionView> {
  return eventually(
    async () => {
      const session = await client.getSession(sessionId);
      if (session.status === 'failed') throw new Error(`session failed: ${JSON.stringify(session.error)}`);
      return session.turns >= turns && (session.status === 'idle' || session.status === 'hibernated') ? session : undefined;
    },
    timeoutMs,
    `${turns} turns of ${sessionId}`,
  );
}
