// Snapshots for checkpoints: a zstd-compressed tar of the sandbox's user state (the workspace and
// HOME, see checkpoint-archive.ts for what is left out), made and unpacked by tar running inside the
// sandbox (as the sandbox user, so hostile files cannot trick a host process with symlinks), streamed
// to and from the blob store. The archive's size and sha256 are counted as it streams in.
// Whatever runs inside the sandbox is treated as hostile: the stored snapshot is capped in bytes
// (the put fails and nothing is stored beyond the cap), making it is time-limited (tar is killed),
// and the stored blob is verified on the host (decompressed and listed, never extracted, bounded in
// time and unpacked bytes) before the caller records it. A failure deletes the blob.
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { HangarError } from '../errors/errors.js';
import type { Sandbox } from '../sandbox/sandbox-provider.js';
import type { BlobStore } from '../store/blobs/blob-store.js';
import { archiveCreateArgs, archiveExtractArgs, type ArchiveFormat } from './checkpoint-archive.js';
import { verifySnapshotArchive, type SnapshotVerifier } from './snapshot-verifier.js';

const TAR_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' };
const MIB = 1024 * 1024;
/** Room for tar headers and directories beyond the data an archive of the two trees holds. */
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
 * Limits of a snapshot of a sandbox with this disk limit, whose workspace and HOME each hold at most
 * diskMb: the configured cap, or twice what the two hold. tar runs with --sparse, so an archive holds
 * at most the data the filesystems hold plus headers.
 */
export function snapshotLimits(settings: { maxSnapshotBytes?: number | undefined; snapshotTimeoutMs: number }, diskMb: number): SnapshotLimits {
  const held = 2 * diskMb * MIB;
  const maxBytes = settings.maxSnapshotBytes ?? 2 * held;
  return { maxBytes, maxUnpackedBytes: Math.max(maxBytes, 2 * held) + UNPACKED_OVERHEAD_BYTES, timeoutMs: settings.snapshotTimeoutMs };
}

export interface SnapshotOptions {
  /** Paths under HOME left out (sessions.checkpointHomeExcludes). */
  homeExcludes: readonly string[];
  /** Verification of the stored archive (default: the host verifier). */
  verify?: SnapshotVerifier;
}

/** The stored archive: compressed size and sha256 (hex). */
export interface StoredSnapshot {
  sizeBytes: number;
  sha256: string;
}

type Exit = { code: number | null; signal: NodeJS.Signals | null };

function waitForExit(child: {
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  once(event: 'error', listener: (error: Error) => void): void;
}): Promise<Exit> {
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
 * Streams a compressed tar of the sandbox's workspace and HOME into the blob store under `key` and
 * verifies it there. Fails with CHECKPOINT_FAILED (details.reason: too_large, timeout, invalid,
 * tar_failed) and leaves no blob under `key` when the archive is too large, too slow, or not a valid
 * archive.
 */
export async function snapshotSandboxState(
  sandbox: Sandbox,
  blobs: BlobStore,
  key: string,
  limits: SnapshotLimits,
  options: SnapshotOptions,
): Promise<StoredSnapshot> {
  const verify = options.verify ?? verifySnapshotArchive;
  const hash = createHash('sha256');
  let stderr = '';
  const child = sandbox.spawn({
    command: 'tar',
    args: archiveCreateArgs(sandbox, options.homeExcludes),
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
        callback(stop(checkpointFailed(`the snapshot of the workspace and HOME is larger than the limit of ${limits.maxBytes} bytes`, 'too_large')));
        return;
      }
      hash.update(chunk);
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
  const timer = setTimeout(() => stop(checkpointFailed(`making the snapshot took longer than ${limits.timeoutMs} ms`, 'timeout')), limits.timeoutMs);
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
        `snapshot failed (tar exit ${exit.value.code ?? exit.value.signal}${stored.sizeBytes === 0 ? ', no output' : ''}): ${stderr.trim()}`,
        'tar_failed',
      );
    }
    const storedArchive = await blobs.get(key);
    try {
      await verify(storedArchive, { maxUnpackedBytes: limits.maxUnpackedBytes, timeoutMs: limits.timeoutMs });
    } finally {
      storedArchive.destroy();
    }
    // Every byte stored went through the counter: the hash is the stored archive's.
    if (streamed !== stored.sizeBytes) throw checkpointFailed(`the blob store holds ${stored.sizeBytes} bytes of the ${streamed} streamed`, 'invalid');
    return { sizeBytes: stored.sizeBytes, sha256: hash.digest('hex') };
  } catch (error) {
    clearTimeout(timer);
    child.kill('SIGKILL');
    await exitWithin(exited, KILL_GRACE_MS).catch(() => undefined);
    // The put is atomic: a failed one stored nothing; a finished one is removed here.
    await blobs.delete(key);
    throw error;
  }
}

/**
 * Unpacks a snapshot from the blob store into the sandbox's (new) workspace and HOME, within the time
 * limit. Format 1 archives (made before HOME was included) hold the workspace only.
 */
export async function restoreSandboxState(sandbox: Sandbox, blobs: BlobStore, key: string, format: ArchiveFormat, timeoutMs: number): Promise<void> {
  const source = await blobs.get(key);
  let stderr = '';
  const child = sandbox.spawn({
    command: 'tar',
    args: archiveExtractArgs(sandbox, format),
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
    if (timedOut || exit === undefined) throw new HangarError('SANDBOX_FAILED', `restoring the workspace and HOME took longer than ${timeoutMs} ms`);
    if (exit?.code !== 0) {
      throw new HangarError('SANDBOX_FAILED', `restoring the workspace and HOME failed (tar exit ${exit?.code ?? exit?.signal}): ${stderr.trim()}`);
    }
  } finally {
    clearTimeout(timer);
    source.destroy();
  }
}

/** How a sandbox's workspace and HOME become an archive in the blob store, and back. */
export interface SandboxStateArchiver {
  snapshot(sandbox: Sandbox, blobs: BlobStore, key: string, limits: SnapshotLimits, options: SnapshotOptions): Promise<StoredSnapshot>;
  restore(sandbox: Sandbox, blobs: BlobStore, key: string, format: ArchiveFormat, timeoutMs: number): Promise<void>;
}

/** The archiver of real sandboxes: tar inside the sandbox, verified on the host. */
export const tarArchiver: SandboxStateArchiver = { snapshot: snapshotSandboxState, restore: restoreSandboxState };
