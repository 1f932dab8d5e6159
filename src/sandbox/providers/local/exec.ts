// exec(): a command's output collected up to EXEC_OUTPUT_LIMIT bytes per stream, with an optional
// timeout that kills it.
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { SandboxExecResult } from '../../sandbox-provider.js';
import { failed } from './errors.js';

const EXEC_OUTPUT_LIMIT = 1024 * 1024;

/** Collects a stream's output up to EXEC_OUTPUT_LIMIT bytes; the rest is read and dropped. */
class CappedOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private truncated = false;

  constructor(stream: Readable | null) {
    stream?.on('data', (chunk: Buffer) => {
      const room = EXEC_OUTPUT_LIMIT - this.size;
      if (chunk.length > room) this.truncated = true;
      if (room <= 0) return;
      const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
      this.chunks.push(kept);
      this.size += kept.length;
    });
  }

  text(): string {
    const text = Buffer.concat(this.chunks).toString('utf8');
    return this.truncated ? `${text}\n[hangar: output truncated at ${EXEC_OUTPUT_LIMIT} bytes]\n` : text;
  }
}

/** Waits for a started command and collects its exit and output; a timeout kills it (noted in stderr). */
export function collectExec(child: ChildProcess, what: { command: string; sandboxId: string; timeoutMs: number | undefined }): Promise<SandboxExecResult> {
  const { timeoutMs } = what;
  const stdout = new CappedOutput(child.stdout);
  const stderr = new CappedOutput(child.stderr);
  return new Promise<SandboxExecResult>((resolve, reject) => {
    let settled = false;
    let timedOut = false;
    const timer =
      timeoutMs !== undefined && timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, timeoutMs)
        : undefined;
    child.once('error', (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(failed(`cannot start ${what.command} in sandbox ${what.sandboxId}: ${error.message}`, error));
    });
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const timeoutNote = timedOut ? `\n[hangar: killed after the ${timeoutMs} ms timeout]\n` : '';
      resolve({ exitCode: code, signal, stdout: stdout.text(), stderr: stderr.text() + timeoutNote });
    });
  });
}
