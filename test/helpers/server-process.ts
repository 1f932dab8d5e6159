// Runs `hangar serve` as a real child process (for crash and restart tests) and waits until it
// listens.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { readAdminKey } from '../../src/auth/admin-key.js';
import { HangarClient } from '../../src/client/hangar-client.js';
import { eventually } from './hangar-harness.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface ServerProcess {
  child: ChildProcess;
  /** A client with the admin key the server wrote to its data directory (auth.mode keys, the default). */
  client: HangarClient;
  apiKey: string;
  exited: Promise<void>;
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string;
}

/** Starts `hangar serve` on a free port with the given data directory and model upstream. */
export async function startServerProcess(dataDir: string, modelUrl: string): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'src/cli/entry.ts'), 'serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/root',
        ANTHROPIC_BASE_URL: modelUrl,
        ANTHROPIC_API_KEY: 'sk-server-process-test',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    const match = await eventually(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output) ?? undefined, 20_000, 'hangar serve to start');
    const apiKey = await eventually(() => readAdminKey(dataDir), 5_000, 'the admin key in the data directory');
    return { child, client: new HangarClient(match[1]!, { apiKey }), apiKey, exited, output: () => output };
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`hangar serve did not start: ${output}`, { cause: error });
  }
}

/** Stops a server process started by startServerProcess, if it still runs. */
export async function stopServerProcess(server: ServerProcess | undefined): Promise<void> {
  if (server === undefined || server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGTERM');
  await server.exited;
}
