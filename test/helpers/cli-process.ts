// Runs the `hangar` command as a user would (a real process, from source through tsx), with an
// environment of the test's choosing: nothing of the test runner's own environment leaks in.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ENTRY = path.join(ROOT, 'src/cli/entry.ts');

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  done: Promise<Finished>;
  stdout: () => string;
  stderr: () => string;
}

/** Starts `hangar <args>` with PATH, HOME and `env` only; `input`, when given, is piped to its stdin (else stdin is empty). */
export function startCli(
  args: string[],
  env: Record<string, string> = {},
  { input, ...options }: Pick<SpawnOptions, 'uid' | 'gid'> & { input?: string } = {},
): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    ...options,
  });
  if (input !== undefined) child.stdin!.end(input);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<Finished>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done, stdout: () => stdout, stderr: () => stderr };
}

/** Waits until the output matches (or the process ends without it: then fails with the output). */
export async function waitForOutput(cli: CliProcess, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  let ended = false;
  void cli.done.then(() => (ended = true));
  for (;;) {
    const match = pattern.exec(cli.stdout()) ?? pattern.exec(cli.stderr());
    if (match) return match;
    if (ended || Date.now() > deadline) throw new Error(`no ${pattern} in the output of hangar:\n${cli.stdout()}\n${cli.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Stops a `hangar serve` with SIGTERM and waits for it. */
export async function stopCli(cli: CliProcess): Promise<Finished> {
  if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGTERM');
  return cli.done;
}
