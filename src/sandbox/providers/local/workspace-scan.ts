// Bounded workspace scan and reads of the local provider, by descriptor. Every directory is opened
// with O_DIRECTORY|O_NOFOLLOW relative to its parent's descriptor (/proc/self/fd/N/name, an openat()
// equivalent), names stay raw bytes, and nothing but directories and regular files is ever opened: a
// sandbox can swap any component for a symlink, FIFO or device, and root never follows or blocks on it.
import { createHash } from 'node:crypto';
import { constants as fsConstants, type BigIntStats, type Dirent } from 'node:fs';
import { lstat, open, opendir, type FileHandle } from 'node:fs/promises';
import { HangarError } from '../../../errors/errors.js';
import { DIR_FLAGS, errnoOf, pathAt } from '../../by-descriptor.js';
import type {
  WorkspaceFileEntry,
  WorkspaceFileRead,
  WorkspaceFileStat,
  WorkspaceReadOptions,
  WorkspaceScan,
  WorkspaceScanOptions,
} from '../../sandbox-provider.js';

/** O_NONBLOCK: opening a FIFO swapped in after the scan returns at once (then fstat refuses it). */
const FILE_FLAGS = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY;
/** Bytes read (and hashed) per step: each step is one trip to the thread pool, so the event loop stays free. */
const CHUNK_BYTES = 64 * 1024;
const DEFAULT_MAX_DEPTH = 64;
/** lstat calls in flight at once during a scan. */
const STAT_BATCH = 16;
const SLASH = 0x2f;
/** Entries gone or swapped for a non-directory between readdir and open: skipped. */
const VANISHED = new Set(['ENOENT', 'ELOOP', 'ENOTDIR']);

/** Opens the workspace directory itself (O_DIRECTORY|O_NOFOLLOW). */
export type OpenWorkspaceRoot = () => Promise<FileHandle>;

function identityOf(stats: BigIntStats): WorkspaceFileStat {
  return { size: Number(stats.size), allocatedBytes: Number(stats.blocks) * 512, mtimeNs: stats.mtimeNs, ctimeNs: stats.ctimeNs, ino: stats.ino };
}

type EntryKind = { kind: 'file'; stats: BigIntStats } | { kind: 'directory' } | { kind: 'other' };

/**
 * The entry's kind from readdir's d_type (directories and non-files need no syscall); regular files and
 * entries of unknown d_type (some filesystems) are lstat'ed. undefined: the entry is gone.
 */
async function kindOf(entry: Dirent, dir: FileHandle, name: Buffer): Promise<EntryKind | undefined> {
  const known =
    entry.isFile() || entry.isDirectory() || entry.isSymbolicLink() || entry.isFIFO() || entry.isSocket() || entry.isBlockDevice() || entry.isCharacterDevice();
  if (known && !entry.isFile() && !entry.isDirectory()) return { kind: 'other' };
  if (known && entry.isDirectory()) return { kind: 'directory' };
  let stats: BigIntStats;
  try {
    stats = await lstat(pathAt(dir, name), { bigint: true });
  } catch (error) {
    if (VANISHED.has(errnoOf(error) ?? '')) return undefined;
    throw error;
  }
  if (stats.isFile()) return { kind: 'file', stats };
  return stats.isDirectory() ? { kind: 'directory' } : { kind: 'other' };
}

/** Lists regular files under the workspace with their stat identity (see Sandbox.scanFiles). */
export async function scanWorkspaceFiles(openRoot: OpenWorkspaceRoot, options: WorkspaceScanOptions): Promise<WorkspaceScan> {
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const entries: WorkspaceFileEntry[] = [];
  const result: WorkspaceScan = { entries, truncated: false, aborted: false };
  let examined = 0;
  /** maxEntries reached or the signal fired: the walk ends (a too-deep directory only skips that directory). */
  let stopped = false;

  const walk = async (dir: FileHandle, prefix: Buffer | undefined, depth: number): Promise<void> => {
    const join = (name: Buffer): Buffer => (prefix === undefined ? Buffer.from(name) : Buffer.concat([prefix, Buffer.of(SLASH), name]));
    // Entries to lstat, a batch at a time (the thread pool runs them side by side).
    let pending: Array<{ entry: Dirent; name: Buffer }> = [];
    const subdirectories: Buffer[] = [];
    const flush = async (): Promise<void> => {
      const batch = pending;
      pending = [];
      const kinds = await Promise.all(batch.map(({ entry, name }) => kindOf(entry, dir, name)));
      kinds.forEach((kind, index) => {
        const name = (batch[index] as { name: Buffer }).name;
        if (kind?.kind === 'file') entries.push({ path: join(name), ...identityOf(kind.stats) });
        else if (kind?.kind === 'directory') subdirectories.push(name);
      });
    };
    // opendir reads the directory in batches: a directory of a million entries is never held at once.
    // Leaving the loop early (return, throw) closes the listing.
    const listing = await opendir(`/proc/self/fd/${dir.fd}`, { encoding: 'buffer' as BufferEncoding, bufferSize: 128 });
    for await (const entry of listing) {
      if (options.signal?.aborted === true) {
        result.aborted = true;
        stopped = true;
        break;
      }
      if (examined >= options.maxEntries) {
        result.truncated = true;
        stopped = true;
        break;
      }
      examined += 1;
      const name = Buffer.from(entry.name as unknown as Buffer);
      if (entry.isDirectory()) subdirectories.push(name);
      else pending.push({ entry, name });
      if (pending.length >= STAT_BATCH) await flush();
    }
    await flush();
    // Subdirectories after the listing is closed: one open listing at a time, whatever the depth.
    for (const name of subdirectories) {
      if (stopped) return;
      if (depth + 1 > maxDepth) {
        result.truncated = true;
        return;
      }
      let child: FileHandle;
      try {
        child = await open(pathAt(dir, name), DIR_FLAGS);
      } catch (error) {
        if (VANISHED.has(errnoOf(error) ?? '')) continue;
        throw error;
      }
      try {
        await walk(child, join(name), depth + 1);
      } finally {
        await child.close();
      }
    }
  };

  const root = await openRoot();
  try {
    await walk(root, undefined, 0);
  } finally {
    await root.close();
  }
  return result;
}

/** Splits a raw workspace-relative path into its components, refusing anything that leaves the workspace. */
export function workspacePathComponents(relativePath: Buffer): Buffer[] {
  if (!Buffer.isBuffer(relativePath) || relativePath.includes(0)) throw new HangarError('VALIDATION_FAILED', 'invalid workspace path');
  const text = JSON.stringify(relativePath.toString('utf8'));
  if (relativePath[0] === SLASH) throw new HangarError('VALIDATION_FAILED', `workspace paths are relative: ${text}`);
  const parts: Buffer[] = [];
  let start = 0;
  for (let index = 0; index <= relativePath.length; index += 1) {
    if (index < relativePath.length && relativePath[index] !== SLASH) continue;
    const part = relativePath.subarray(start, index);
    start = index + 1;
    if (part.length === 0 || (part.length === 1 && part[0] === 0x2e)) continue;
    if (part.length === 2 && part[0] === 0x2e && part[1] === 0x2e) throw new HangarError('VALIDATION_FAILED', `path escapes the workspace: ${text}`);
    parts.push(part);
  }
  if (parts.length === 0) throw new HangarError('VALIDATION_FAILED', `path names the workspace itself: ${text}`);
  return parts;
}

function readError(error: unknown, relativePath: Buffer): unknown {
  if (error instanceof HangarError || (error instanceof Error && error.name === 'AbortError')) return error;
  const shown = JSON.stringify(relativePath.toString('utf8'));
  const code = errnoOf(error);
  if (code === 'ENOENT') return new HangarError('NOT_FOUND', `no such file in the workspace: ${shown}`, { cause: error });
  if (code === 'ELOOP' || code === 'ENOTDIR')
    return new HangarError('VALIDATION_FAILED', `workspace path goes through a symbolic link or a non-directory: ${shown}`);
  return new HangarError('SANDBOX_FAILED', `reading ${shown} failed: ${(error as Error).message}`, { cause: error });
}

/** Reads and hashes one regular workspace file, at most maxBytes, in chunks (see Sandbox.readFileBytes). */
export async function readWorkspaceFileBytes(openRoot: OpenWorkspaceRoot, relativePath: Buffer, options: WorkspaceReadOptions): Promise<WorkspaceFileRead> {
  const parts = workspacePathComponents(relativePath);
  const name = parts.pop() as Buffer;
  options.signal?.throwIfAborted();
  let dir: FileHandle | undefined;
  let file: FileHandle | undefined;
  try {
    dir = await openRoot();
    for (const part of parts) {
      const next = await open(pathAt(dir, part), DIR_FLAGS);
      await dir.close();
      dir = next;
    }
    file = await open(pathAt(dir, name), FILE_FLAGS);
    const stats = await file.stat({ bigint: true });
    if (!stats.isFile()) throw new HangarError('VALIDATION_FAILED', `not a regular file: ${JSON.stringify(relativePath.toString('utf8'))}`);
    const stat = identityOf(stats);
    if (stat.size > options.maxBytes) return { stat, tooLarge: true };
    const hash = createHash('sha256');
    const kept: Buffer[] = [];
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    let total = 0;
    // One byte past maxBytes tells a file that grew since fstat.
    while (total <= options.maxBytes) {
      options.signal?.throwIfAborted();
      const { bytesRead } = await file.read(chunk, 0, Math.min(CHUNK_BYTES, options.maxBytes + 1 - total), total);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > options.maxBytes) return { stat, tooLarge: true };
      hash.update(chunk.subarray(0, bytesRead));
      if (options.keepContent === true) kept.push(Buffer.from(chunk.subarray(0, bytesRead)));
    }
    const read: WorkspaceFileRead = { stat: { ...stat, size: total }, tooLarge: false, sha256: hash.digest('hex') };
    if (options.keepContent === true) read.content = Buffer.concat(kept, total);
    return read;
  } catch (error) {
    throw readError(error, relativePath);
  } finally {
    await file?.close();
    await dir?.close();
  }
}
