// A long-lived root shell that runs short host commands (umount, losetup, mount...) for the local
// provider. Starting a process from Node forks the whole Node process, which costs about 3 ms per
// 100 MB of its memory; the shell is small, so the commands it starts are cheap. Commands run one
// at a time, with an empty environment, and report their exit status and combined output.
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';

export interface HostShellResult {
  exitCode: number;
  /** stdout and stderr together, trailing newlines removed. */
  output: string;
}

/** Thrown for a non-zero exit; `stderr` carries the output, like execFile's errors. */
export class HostCommandError extends Error {
  constructor(
    readonly exitCode: number,
    readonly stderr: string,
    command: string,
  ) {
    super(`${command} exited with ${exitCode}: ${stderr.trim()}`);
    this.name = 'HostCommandError';
  }
}

export interface HostShell {
  /** Runs `file args...`; resolves with its output (trailing newlines removed), rejects with HostCommandError on a non-zero exit. */
  run(file: string, args: string[], options?: { timeoutMs?: number }): Promise<string>;
  close(): void;
}

/** Quotes a word for sh: in single quotes, each quote inside written as '\''. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

const SEPARATOR = '\u001e';

/** Kills the shell and whatever command it is running. */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}
const DEFAULT_TIMEOUT_MS = 30_000;

interface Pending {
  id: number;
  command: string;
  resolve: (result: HostShellResult) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Starts the shell lazily, on the first command. `niceness` (0..19) lowers the CPU priority of the
 * shell and of every command it runs: for background work that must not slow running sandboxes.
 */
export function createHostShell(options: { shellPath?: string; niceness?: number } = {}): HostShell {
  const shellPath = options.shellPath ?? '/bin/sh';
  let shell: ChildProcess | undefined;
  let nextId = 1;
  const pending = new Map<number, Pending>();
  let queue: Promise<unknown> = Promise.resolve();

  const failAll = (error: Error): void => {
    for (const entry of pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(error);
    }
    pending.clear();
  };

  const start = (): ChildProcess => {
    if (shell !== undefined && shell.exitCode === null && shell.signalCode === null) return shell;
    let buffer = '';
    // Its own process group, so a timed-out command dies with the shell. The shell exits when this
    // process goes (its stdin closes).
    const child = spawn(shellPath, [], { env: {}, cwd: '/', stdio: ['pipe', 'pipe', 'ignore'], detached: true });
    if (options.niceness !== undefined && child.pid !== undefined) {
      try {
        os.setPriority(child.pid, options.niceness);
      } catch {
        // The commands then run at normal priority: slower neighbours, same results.
      }
    }
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffer += chunk;
      // Each answer: <output>\u001e<id> <status>\u001e
      for (;;) {
        const first = buffer.indexOf(SEPARATOR);
        if (first === -1) return;
        const second = buffer.indexOf(SEPARATOR, first + 1);
        if (second === -1) return;
        const output = buffer.slice(0, first);
        const [idText, statusText] = buffer.slice(first + 1, second).split(' ');
        buffer = buffer.slice(second + 1);
        const entry = pending.get(Number(idText));
        if (entry === undefined) continue;
        pending.delete(entry.id);
        clearTimeout(entry.timer);
        entry.resolve({ exitCode: Number(statusText), output });
      }
    });
    child.stdin!.on('error', () => undefined);
    child.once('exit', () => {
      if (shell !== child) return;
      shell = undefined;
      failAll(new Error('the host command shell exited'));
    });
    child.once('error', (error) => {
      if (shell === child) failAll(error);
    });
    // The shell must never keep the event loop alive on its own.
    child.unref();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    shell = child;
    return child;
  };

  const execute = (file: string, args: string[], timeoutMs: number): Promise<HostShellResult> =>
    new Promise((resolve, reject) => {
      const child = start();
      const id = nextId;
      nextId += 1;
      const command = [file, ...args].map(shellQuote).join(' ');
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`host command timed out after ${timeoutMs} ms: ${command}`));
        // A hung command would block every later one: start over with a fresh shell.
        if (shell === child) shell = undefined;
        killGroup(child);
      }, timeoutMs);
      pending.set(id, { id, command, resolve, reject, timer });
      child.stdin!.write(`__hangar_out=$(${command} 2>&1 </dev/null); printf '%s${SEPARATOR}%d %d${SEPARATOR}' "$__hangar_out" ${id} $?\n`);
    });

  return {
    run(file, args, options = {}) {
      const result = queue.then(() => execute(file, args, options.timeoutMs ?? DEFAULT_TIMEOUT_MS));
      queue = result.catch(() => undefined);
      return result.then(({ exitCode, output }) => {
        if (exitCode !== 0) throw new HostCommandError(exitCode, output, [file, ...args].join(' '));
        return output;
      });
    },
    close() {
      if (shell !== undefined) killGroup(shell);
      shell = undefined;
    },
  };
}
