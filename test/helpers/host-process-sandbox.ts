// A Sandbox for tests of code that spawns helper processes in a sandbox (snapshots): spawn() runs a
// host shell script chosen by the test instead of the requested command, so a test can play a tar
// that writes garbage, endless data, or nothing, without root or bubblewrap.
import { spawn, type ChildProcess } from 'node:child_process';
import type { SpawnedProcess } from '@anthropic-ai/claude-agent-sdk';
import type { Sandbox, SandboxSpawnRequest } from '../../src/sandbox/sandbox-provider.js';

export interface HostProcessSandbox extends Sandbox {
  /** Every process spawn() started, in order. */
  readonly children: ChildProcess[];
  /** Every request spawn() was given, in order. */
  readonly requests: SandboxSpawnRequest[];
}

/**
 * `script(request)` is the sh script run for each spawn (it sees the request's args as "$@"). The
 * workspace and HOME paths are host directories when the script runs a real tar over them.
 */
export function hostProcessSandbox(
  script: (request: SandboxSpawnRequest) => string,
  workspacePath = '/workspace',
  homePath = '/home/agent',
): HostProcessSandbox {
  const children: ChildProcess[] = [];
  const requests: SandboxSpawnRequest[] = [];
  const unsupported = (): never => {
    throw new Error('not supported by the host-process test sandbox');
  };
  return {
    id: 'host-process-sandbox',
    workspacePath,
    homePath,
    children,
    requests,
    spawn(request) {
      requests.push(request);
      const child = spawn('sh', ['-c', script(request), 'sh', ...request.args], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => request.onStderr?.(chunk));
      child.stdin.on('error', () => undefined);
      // Kills the whole process group (sh and its pipeline), as a sandbox's kill ends the tar chain.
      const kill = child.kill.bind(child);
      child.kill = (signal?: NodeJS.Signals | number): boolean => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, signal ?? 'SIGTERM');
          return true;
        } catch {
          return kill(signal);
        }
      };
      children.push(child);
      return child as ChildProcess & SpawnedProcess;
    },
    exec: unsupported,
    readFile: unsupported,
    writeFile: unsupported,
    listFiles: unsupported,
    scanFiles: unsupported,
    readFileBytes: unsupported,
    stats: async () => ({ oomKills: 0, processCount: 0 }),
    destroy: async () => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
