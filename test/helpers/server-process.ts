// Runs `hangar serve` as a real child process (for crash and restart tests) and waits until it
// listens; and a fixture of a data directory, a scripted model and a server a test can SIGKILL and
// start again on the same data.
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { readAdminKey } from '../../src/auth/admin-key.js';
import { HangarClient } from '../../src/client/hangar-client.js';
import { startScriptedModelServer, type ScriptedModelServer } from '../../src/model/scripted-model-server.js';
import { startCli } from './cli-process.js';
import { eventually } from './hangar-harness.js';

export interface ServerProcess {
  child: ChildProcess;
  /** A client with the admin key the server wrote to its data directory (auth.mode keys, the default). */
  client: HangarClient;
  apiKey: string;
  exited: Promise<void>;
  /** Everything the process wrote so far (stdout, then stderr). */
  output(): string;
}

/** Starts `hangar serve` on a free port with the given data directory and model upstream. */
export async function startServerProcess(dataDir: string, modelUrl: string): Promise<ServerProcess> {
  const cli = startCli(['serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'], {
    ANTHROPIC_BASE_URL: modelUrl,
    ANTHROPIC_API_KEY: 'sk-server-process-test',
  });
  const { child } = cli;
  // On exit, not on close: processes the server left behind may still hold its output pipes.
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const output = (): string => cli.stdout() + cli.stderr();
  try {
    const match = await eventually(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output()) ?? undefined, 20_000, 'hangar serve to start');
    const apiKey = await eventually(() => readAdminKey(dataDir), 5_000, 'the admin key in the data directory');
    return { child, client: new HangarClient(match[1]!, { apiKey }), apiKey, exited, output };
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`hangar serve did not start: ${output()}`, { cause: error });
  }
}

/** Stops a server process started by startServerProcess, if it still runs. */
export async function stopServerProcess(server: ServerProcess | undefined): Promise<void> {
  if (server === undefined || server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGTERM');
  await server.exited;
}

export interface CrashableServer {
  /** The data directory every start of the server uses (traversable by sandbox uids). */
  readonly dataDir: string;
  /** The scripted model the server calls (an empty scenario until the test sets one). */
  readonly model: ScriptedModelServer;
  /** Starts `hangar serve` on the data directory, again after crash(). */
  start(): Promise<ServerProcess>;
  /** SIGKILLs the server and waits until it is gone: nothing of its shutdown runs. */
  crash(): Promise<void>;
}

/**
 * In a describe block: a data directory named `prefix`..., a scripted model started before the
 * tests, and the server the tests start; after them the server is stopped, the model closed and
 * the directory removed.
 */
export function useCrashableServer(prefix: string): CrashableServer {
  const dataDir = mkdtempSync(path.join(tmpdir(), prefix));
  // Sandbox uids traverse the data directory to reach their workspaces.
  chmodSync(dataDir, 0o711);
  let model: ScriptedModelServer | undefined;
  let server: ServerProcess | undefined;
  beforeAll(async () => {
    model = await startScriptedModelServer({ scenario: { replies: [] }, host: '127.0.0.1', port: 0, logger: false });
  });
  afterAll(async () => {
    await stopServerProcess(server);
    await model?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`useCrashableServer: no ${what} yet`);
    return value;
  };
  return {
    dataDir,
    get model() {
      return started(model, 'model (it starts before the tests)');
    },
    async start() {
      server = await startServerProcess(dataDir, started(model, 'model').url);
      return server;
    },
    async crash() {
      const running = started(server, 'server (call start())');
      running.child.kill('SIGKILL');
      await running.exited;
    },
  };
}
