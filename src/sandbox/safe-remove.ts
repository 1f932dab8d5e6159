// Removal of a directory tree that a sandbox may have written, by root, without ever following a
// link the sandbox planted. Every directory is opened with O_DIRECTORY|O_NOFOLLOW and its entries
// are reached relative to that descriptor (/proc/self/fd/<fd>/<name>, the openat()/unlinkat()
// equivalent Node offers): a directory swapped for a symlink mid-walk is unlinked as a link, never
// walked into. Names are handled as bytes, so names that are not UTF-8 are removed too.
import { lstat, open, readdir, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { DIR_FLAGS, errnoOf, pathAt } from './by-descriptor.js';

/** Deepest directory nesting removed; deeper trees are left in place and reported. */
export const MAX_REMOVE_DEPTH = 512;

export interface RemoveOutcome {
  /** Entries removed. */
  removed: number;
  /** Entries that could not be removed (too deep, or an error), as readable paths. */
  left: string[];
}

/**
 * Removes `target` and everything under it by descriptor. The parent of `target` must be a
 * directory the sandbox cannot change (the walk starts there); `target` itself may be anything.
 * Missing targets are fine. Never throws for entries inside the tree: what it cannot remove is
 * listed in the outcome.
 */
export async function removeTreeByDescriptor(target: string): Promise<RemoveOutcome> {
  const outcome: RemoveOutcome = { removed: 0, left: [] };
  let parent: FileHandle;
  try {
    parent = await open(path.dirname(target), DIR_FLAGS);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return outcome;
    throw error;
  }
  try {
    await removeEntry(parent, Buffer.from(path.basename(target)), target, 0, outcome);
  } finally {
    await parent.close();
  }
  return outcome;
}

async function removeEntry(parent: FileHandle, name: Buffer, shown: string, depth: number, outcome: RemoveOutcome): Promise<void> {
  const entryPath = pathAt(parent, name);
  let info;
  try {
    info = await lstat(entryPath);
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') outcome.left.push(`${shown}: ${(error as Error).message}`);
    return;
  }
  if (!info.isDirectory()) {
    await unlinkEntry(entryPath, shown, outcome);
    return;
  }
  if (depth >= MAX_REMOVE_DEPTH) {
    outcome.left.push(`${shown}: nested deeper than ${MAX_REMOVE_DEPTH} directories`);
    return;
  }
  let dir: FileHandle;
  try {
    dir = await open(entryPath, DIR_FLAGS);
  } catch (error) {
    // Replaced by a link or a file since the lstat: removed as what it is now.
    if (errnoOf(error) === 'ELOOP' || errnoOf(error) === 'ENOTDIR') await unlinkEntry(entryPath, shown, outcome);
    else if (errnoOf(error) !== 'ENOENT') outcome.left.push(`${shown}: ${(error as Error).message}`);
    return;
  }
  try {
    for (const child of await readdir(`/proc/self/fd/${dir.fd}`, { encoding: 'buffer' })) {
      await removeEntry(dir, child, `${shown}/${child.toString('utf8')}`, depth + 1, outcome);
    }
  } catch (error) {
    outcome.left.push(`${shown}: ${(error as Error).message}`);
  } finally {
    await dir.close();
  }
  try {
    await rmdir(entryPath);
    outcome.removed += 1;
  } catch (error) {
    if (errnoOf(error) === 'ENOTDIR') await unlinkEntry(entryPath, shown, outcome);
    else if (errnoOf(error) !== 'ENOENT') outcome.left.push(`${shown}: ${(error as Error).message}`);
  }
}

async function unlinkEntry(entryPath: Buffer, shown: string, outcome: RemoveOutcome): Promise<void> {
  try {
    await unlink(entryPath);
    outcome.removed += 1;
  } catch (error) {
    if (errnoOf(error) === 'EISDIR') outcome.left.push(`${shown}: became a directory while being removed`);
    else if (errnoOf(error) !== 'ENOENT') outcome.left.push(`${shown}: ${(error as Error).message}`);
  }
}
