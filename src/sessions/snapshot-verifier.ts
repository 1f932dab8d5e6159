// Verifies a stored workspace snapshot on the host before a checkpoint records it: the blob is
// streamed through `zstd -d` into `tar --list`, which only decompress and list (nothing is ever
// extracted on the host). Both run as an unprivileged uid (nobody) with no new privileges, under
// rlimits (address space, CPU seconds, no file writes), and are killed when they exceed the time
// limit or the archive unpacks to more bytes than allowed, so a hostile archive (garbage, a
// decompression bomb, an endless stream) costs the host a bounded amount of CPU, memory and time.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { HangarError } from '../errors/errors.js';

export interface VerifyLimits {
  /** Most bytes the archive may decompress to. */
  maxUnpackedBytes: number;
  timeoutMs: number;
}

export type SnapshotVerifier = (archive: Readable, limits: VerifyLimits) => Promise<{ unpackedBytes: number }>;

const NOBODY = 65534;
const VERIFIER_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' };
/** Address space of each verification process: zstd's decoder window is capped at 128 MiB. */
const ADDRESS_SPACE_BYTES = 768 * 1024 * 1024;

/**
 * The argv that runs `tool` confined: rlimits through prlimit(1), then (when Hangar runs as root)
 * setpriv(1) to the nobody uid with no capabilities and no_new_privs.
 */
export function confinedCommand(tool: string[], timeoutMs: number, asRoot: boolean): string[] {
  const cpuSeconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  const prlimit = ['prlimit', `--as=${ADDRESS_SPACE_BYTES}`, `--cpu=${cpuSeconds}`, '--fsize=0', '--nofile=32', '--core=0', '--'];
  const drop = asRoot ? ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--inh-caps=-all', '--no-new-privs', '--'] : [];
  return [...prlimit, ...drop, ...tool];
}

function invalid(message: string, reason: 'invalid' | 'too_large' | 'timeout'): HangarError {
  return new HangarError('CHECKPOINT_FAILED', message, { details: { reason } });
}

function start(argv: string[], stdout: 'pipe' | 'ignore', onStderr: (chunk: string) => void): ChildProcess {
  const [command, ...args] = argv;
  const child = spawn(command as string, args, { cwd: '/', env: VERIFIER_ENV, stdio: ['pipe', stdout, 'pipe'] });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', onStderr);
  child.stdin?.on('error', () => undefined);
  child.on('error', (error: Error) => onStderr(`cannot run ${command}: ${error.message}\n`));
  return child;
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
}

/** Checks that the archive is a complete zstd stream holding a readable tar, within the limits. */
export const verifySnapshotArchive: SnapshotVerifier = async (archive, limits) => {
  const asRoot = process.getuid?.() === 0;
  let stderr = '';
  const collect = (chunk: string): void => {
    stderr = (stderr + chunk).slice(-2000);
  };
  const zstd = start(confinedCommand(['zstd', '-d', '-c', '-q', '--memory=128MB'], limits.timeoutMs, asRoot), 'pipe', collect);
  const tar = start(confinedCommand(['tar', '--list', '--file=-'], limits.timeoutMs, asRoot), 'ignore', collect);
  let failure: HangarError | undefined;
  let unpackedBytes = 0;
  const fail = (error: HangarError): void => {
    failure ??= error;
    zstd.kill('SIGKILL');
    tar.kill('SIGKILL');
    archive.destroy();
  };
  const timer = setTimeout(() => fail(invalid(`verifying the workspace snapshot took longer than ${limits.timeoutMs} ms`, 'timeout')), limits.timeoutMs);

  archive.on('error', (error: Error) => fail(invalid(`reading the stored snapshot failed: ${error.message}`, 'invalid')));
  archive.pipe(zstd.stdin!);
  // tar may stop reading at the end-of-archive marker; zstd's output is then drained and counted.
  let tarOpen = true;
  const output = zstd.stdout!;
  const closeTar = (): void => {
    tarOpen = false;
    output.resume();
  };
  tar.stdin!.on('error', closeTar);
  tar.stdin!.on('close', closeTar);
  output.on('data', (chunk: Buffer) => {
    unpackedBytes += chunk.length;
    if (unpackedBytes > limits.maxUnpackedBytes) {
      fail(invalid(`the workspace snapshot unpacks to more than ${limits.maxUnpackedBytes} bytes`, 'too_large'));
      return;
    }
    if (tarOpen && !tar.stdin!.write(chunk)) {
      output.pause();
      tar.stdin!.once('drain', () => output.resume());
    }
  });
  output.on('end', () => tar.stdin!.end());

  try {
    const [zstdExit, tarExit] = await Promise.all([exitOf(zstd), exitOf(tar)]);
    if (failure !== undefined) throw failure;
    if (zstdExit.code !== 0)
      throw invalid(`the workspace snapshot is not a valid zstd stream (zstd exit ${zstdExit.code ?? zstdExit.signal}): ${stderr.trim()}`, 'invalid');
    if (tarExit.code !== 0)
      throw invalid(`the workspace snapshot is not a valid tar archive (tar exit ${tarExit.code ?? tarExit.signal}): ${stderr.trim()}`, 'invalid');
    return { unpackedBytes };
  } finally {
    clearTimeout(timer);
  }
};
