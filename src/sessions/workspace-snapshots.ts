// Workspace snapshots for checkpoints: a zstd-compressed tar of the workspace, made and unpacked by
// tar running inside the sandbox (as the sandbox user, so a hostile workspace cannot trick a host
// process with symlinks), streamed to and from the blob store.
import { PassThrough, type Readable } from 'node:stream';
import { HangarError } from '../errors/errors.js';
import type { Sandbox } from '../sandbox/sandbox-provider.js';
import type { BlobStore } from '../store/blob-store.js';

const TAR_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' };

function waitForExit(child: { once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): void; once(event: 'error', listener: (error: Error) => void): void }): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', reject);
  });
}

/** Streams a compressed tar of the sandbox's workspace into the blob store under `key`. */
export async function snapshotWorkspace(sandbox: Sandbox, blobs: BlobStore, key: string): Promise<{ sizeBytes: number }> {
  let stderr = '';
  const child = sandbox.spawn({
    command: 'tar',
    args: ['--zstd', '--create', '--file=-', '--directory', sandbox.workspacePath, '--numeric-owner', '.'],
    env: TAR_ENV,
    // The sandbox's warm launcher, if it has one, stays for the CLI.
    auxiliary: true,
    onStderr: (chunk) => {
      stderr = (stderr + chunk).slice(-2000);
    },
  });
  const exited = waitForExit(child);
  child.stdin.end();
  // Consumed from now on: Node drains (and drops) the output of an exited child whose stdout has no
  // reader yet, and the blob store starts reading only after its own setup. A fast tar would lose
  // its archive in between.
  const archive = (child.stdout as Readable).pipe(new PassThrough());
  const [stored, exit] = await Promise.all([blobs.put(key, archive), exited]);
  // A compressed tar is never empty: no bytes means the archive was lost, not an empty workspace.
  if (exit.code !== 0 || stored.sizeBytes === 0) {
    await blobs.delete(key);
    throw new HangarError('SANDBOX_FAILED', `workspace snapshot failed (tar exit ${exit.code ?? exit.signal}${stored.sizeBytes === 0 ? ', no output' : ''}): ${stderr.trim()}`);
  }
  return stored;
}

/** Unpacks a snapshot from the blob store into the sandbox's (empty) workspace. */
export async function restoreWorkspace(sandbox: Sandbox, blobs: BlobStore, key: string): Promise<void> {
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
  source.on('error', (error: Error) => child.stdin.destroy(error));
  source.pipe(child.stdin);
  const exit = await exited;
  if (exit.code !== 0) {
    throw new HangarError('SANDBOX_FAILED', `workspace restore failed (tar exit ${exit.code ?? exit.signal}): ${stderr.trim()}`);
  }
}
