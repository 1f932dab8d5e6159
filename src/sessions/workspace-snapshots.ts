// Workspace snapshots for checkpoints: a zstd-compressed tar of the workspace, made and unpacked by
// tar running inside the sandbox (as the sandbox user, so a hostile workspace cannot trick a host
// process with symlinks), streamed to and from the blob store.
// Whatever runs inside the sandbox is treated as hostile: the stored snapshot is capped in bytes
// (the put fails and nothing is stored beyond the cap), making it is time-limited (tar is killed),
// and the stored blob is verified on the host (decompressed and listed, never extracted, bounded in
// time and unpacked bytes) before the caller records it. A failure deletes the blob.
import { Transform, type Readable } from 'node:stream';
import { HangarError } from '../errors/errors.js';
import type { Sandbox } from '../sandbox/sandbox-provider.js';
import type { BlobStore } from '../store/blob-store.js';
import { verifySnapshotArchive, type SnapshotVerifier } from './snapshot-verifier.js';

const TAR_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' };
const MIB = 1024 * 1024;
/** Room for tar headers and directories beyond the data an archive of the workspace holds. */
const UNPACKED_OVERHEAD_BYTES = 64 * MIB;
/** How long a killed tar gets to be reported gone before the snapshot gives up waiting for it. */
const KILL_GRACE_MS = 5_000;

export interface SnapshotLimits {
  /** Most compressed bytes stored. */
  maxBytes: number;
  /** Most bytes the stored archive may unpack to (checked by the verification). */
  maxUnpackedBytes: number;
  /** Time limit of making the archive, of verifying it, and of restoring it (each). */
  timeoutMs: number;
}

/**
 * Limits of a snapshot of a sandbox with this disk limit: the configured cap, or twice the disk
 * limit. tar runs with --sparse, so an archive holds at most the data the disk holds plus headers.
 */
export function snapshotLimits(settings: { maxSnapshotBytes?: number | undefined; snapshotTimeoutMs: number }, diskMb: number): SnapshotLimits {
  const maxBytes = settings.maxSnapshotBytes ?? 2 * diskMb * MIB;
  return { maxBytes, maxUnpackedBytes: Math.max(maxBytes, 2 * diskMb * MIB) + UNPACKED_OVERHEAD_BYTES, timeoutMs: settings.snapshotTimeoutMs };
}

type Exit = { code: number | null; signal: NodeJS.Signals | null };

function waitForExit(child: { once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): void; once(event: 'error', listener: (error: Error) => void): void }): Promise<Exit> {
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', reject);
  });
}

/** The exit, or undefined when the process is not reported gone within the grace period. */
function exitWithin(exited: Promise<Exit>, ms: number): Promise<Exit | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([exited, late]).finally(() => clearTimeout(timer));
}

function checkpointFailed(message: string, reason: string): HangarError {
  return new HangarError('CHECKPOINT_FAILED', message, { details: { reason } });
}

/**
 * Streams a compressed tar of the sandbox's workspace into the blob store under `key` and verifies
 * it there. Fails with CHECKPOINT_FAILED (details.reason: too_large, timeout, invalid, tar_failed)
 * and leaves no blob under `key` when the archive is too large, too slow, or not a valid archive.
 */
export async function snapshotWorkspace(
  sandbox: Sandbox,
  blobs: BlobStore,
  key: string,
  limits: SnapshotLimits,
  verify: SnapshotVerifier = verifySnapshotArchive,
): Promise<{ sizeBytes: number }> {
  let stderr = '';
  const child = sandbox.spawn({
    command: 'tar',
    args: ['--zstd', '--create', '--sparse', '--file=-', '--directory', sandbox.workspacePath, '--numeric-owner', '.'],
    env: TAR_ENV,
    // The sandbox's warm launcher, if it has one, stays for the CLI.
    auxiliary: true,
    onStderr: (chunk) => {
      stderr = (stderr + chunk).slice(-2000);
    },
  });
  const exited = waitForExit(child);
  exited.catch(() => undefined);
  child.stdin.end();
  let failure: HangarError | undefined;
  let streamed = 0;
  // Consumed from now on: Node drains (and drops) the output of an exited child whose stdout has no
  // reader yet, and the blob store starts reading only after its own setup. A fast tar would lose
  // its archive in between. The counter stops the stream (and the put) at the cap.
  const archive = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      streamed += chunk.length;
      if (streamed > limits.maxBytes) {
        callback(stop(checkpointFailed(`the workspace snapshot is larger than the limit of ${limits.maxBytes} bytes`, 'too_large')));
        return;
      }
      callback(null, chunk);
    },
  });
  const stop = (error: HangarError): HangarError => {
    failure ??= error;
    child.kill('SIGKILL');
    (child.stdout as Readable).unpipe(archive);
    (child.stdout as Readable).destroy();
    archive.destroy(error);
    return error;
  };
  const timer = setTimeout(() => stop(checkpointFailed(`making the workspace snapshot took longer than ${limits.timeoutMs} ms`, 'timeout')), limits.timeoutMs);
  (child.stdout as Readable).on('error', () => undefined);
  (child.stdout as Readable).pipe(archive);
  let stored: { sizeBytes: number } | undefined;
  try {
    const [put, exit] = await Promise.allSettled([blobs.put(key, archive), exited]);
    clearTimeout(timer);
    if (failure !== undefined) throw failure;
    if (put.status === 'rejected') throw put.reason;
    stored = put.value;
    if (exit.status === 'rejected') throw checkpointFailed(`tar could not run: ${(exit.reason as Error).message}`, 'tar_failed');
    // A compressed tar is never empty: no bytes means the archive was lost, not an empty workspace.
    if (exit.value.code !== 0 || stored.sizeBytes === 0) {
      throw checkpointFailed(
        `workspace snapshot failed (tar exit ${exit.value.code ?? exit.value.signal}${stored.sizeBytes === 0 ? ', no output' : ''}): ${stderr.trim()}`,
        'tar_failed',
      );
    }
    const storedArchive = await blobs.get(key);
    try {
      await verify(storedArchive, { maxUnpackedBytes: limits.maxUnpackedBytes, timeoutMs: limits.timeoutMs });
    } finally {
      storedArchive.destroy();
    }
    return stored;
  } catch (error) {
    clearTimeout(timer);
    child.kill('SIGKILL');
    await exitWithin(exited, KILL_GRACE_MS).catch(() => undefined);
    // The put is atomic: a failed one stored nothing; a finished one is removed here.
    await blobs.delete(key);
    throw error;
  }
}

/** Unpacks a snapshot from the blob store into the sandbox's (empty) workspace, within the time limit. */
export async function restoreWorkspace(sandbox: Sandbox, blobs: BlobStore, key: string, timeoutMs: number): Promise<void> {
  const source = await blobs.get(key);
  let stderr = '';
  const child = sandbox.spawn({
    command: 'tar',
    args: ['--zstd', '--extract', '--file=-', '--directory', sandbox.workspacePath, '--no-same-owner'],
    env: TAR_ENV,
    // The sandbox's warm launcher, if it has one, stays for the CLI.
    auxiliary: true,
    onStderr: (chunk) => {
      stderr = (stderr + chunk).slice(-2000);
    },
  });
  const exited = waitForExit(child);
  exited.catch(() => undefined);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
    source.destroy();
  }, timeoutMs);
  child.stdin.on('error', () => undefined);
  source.on('error', (error: Error) => child.stdin.destroy(error));
  source.pipe(child.stdin);
  try {
    // tar is killed at the time limit; a tar not reported gone even then is given up on.
    const exit = await exitWithin(exited, timeoutMs + KILL_GRACE_MS);
    if (timedOut || exit === undefined) throw new HangarError('SANDBOX_FAILED', `workspace restore took longer than ${timeoutMs} ms`);
    if (exit?.code !== 0) {
      throw new HangarError('SANDBOX_FAILED', `workspace restore failed (tar exit ${exit?.code ?? exit?.signal}): ${stderr.trim()}`);
    }
  } finally {
    clearTimeout(timer);
    source.destroy();
  }
}
