// One data directory, one owner: an exclusive lock on <dataDir>/hangar.lock, taken before anything
// else in the directory is touched and held for the life of the Hangar instance.
//
// The lock is a POSIX record lock (fcntl F_SETLK) that SQLite takes for a connection holding an
// exclusive transaction (better-sqlite3 is already Hangar's store driver; Node has no flock or
// fcntl of its own). The kernel owns that lock and drops it when the process ends, however it
// ends (exit, crash, SIGKILL, OOM kill): a dead holder never leaves a stale lock to time out or
// clean up by hand. Lock files with pids or mtimes (proper-lockfile and the like) go stale on a
// crash; a unix socket bound as a lock leaves its file behind and takes over with a racy
// "connect, unlink, rebind". SQLite also refuses a second connection of the same process, so two
// Hangars in one process conflict as well. The lock holds on the file's inode: another path to the
// same directory (a symlink, a bind mount, another network namespace) meets the same lock.
import { readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { HangarError } from '../errors/errors.js';

/** What the holder of a data directory says about itself (<dataDir>/hangar.owner.json). */
export interface DataDirOwner {
  pid: number;
  /** What runs there, e.g. `hangar serve`. */
  command: string;
  startedAt: string;
  /** The holder's HTTP API, once it listens. */
  url?: string;
}

export interface DataDirLock {
  readonly dataDir: string;
  /** Records the holder's API address, for the message a refused process prints. */
  setUrl(url: string): void;
  /** Releases the lock (idempotent). The kernel releases it too if the process dies first. */
  release(): void;
}

export const LOCK_FILE = 'hangar.lock';
export const OWNER_FILE = 'hangar.owner.json';

/**
 * Connections holding a lock. A connection the garbage collector finalizes is closed, which drops
 * its lock: held here until release(), a lock lasts as long as the process even when nothing else
 * keeps its DataDirLock.
 */
const held = new Set<Database.Database>();

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

/**
 * The pid holding a POSIX lock on the file, from /proc/locks (Linux): the kernel's own record,
 * right even when the owner file is missing or stale. Undefined elsewhere or when nobody holds it.
 */
export function lockHolderPid(file: string): number | undefined {
  let info: { dev: number; ino: number };
  let table: string;
  try {
    info = statSync(file);
    table = readFileSync('/proc/locks', 'utf8');
  } catch {
    return undefined;
  }
  // glibc's dev_t encoding; /proc/locks prints MAJOR:MINOR:INODE with the device numbers in hex.
  const major = ((info.dev >>> 8) & 0xfff) | (Math.floor(info.dev / 2 ** 32) & ~0xfff);
  const minor = (info.dev & 0xff) | ((info.dev >>> 12) & 0xfff00);
  for (const line of table.split('\n')) {
    // "1: POSIX  ADVISORY  WRITE 1234 fe:00:2179961 1073741824 1073742335" ("->" marks a waiter).
    const fields = line.trim().split(/\s+/);
    if (fields[1] !== 'POSIX' || fields[3] !== 'WRITE') continue;
    const [maj, min, ino] = (fields[5] ?? '').split(':');
    if (Number(ino) === info.ino && parseInt(maj ?? '', 16) === major && parseInt(min ?? '', 16) === minor) {
      const pid = Number(fields[4]);
      if (Number.isInteger(pid) && pid > 0) return pid;
    }
  }
  return undefined;
}

/** Reads the owner file; undefined when missing or unreadable. */
export function readDataDirOwner(dataDir: string): DataDirOwner | undefined {
  try {
    const value = JSON.parse(readFileSync(path.join(dataDir, OWNER_FILE), 'utf8')) as Partial<DataDirOwner>;
    if (typeof value.pid !== 'number' || typeof value.command !== 'string' || typeof value.startedAt !== 'string') return undefined;
    return { pid: value.pid, command: value.command, startedAt: value.startedAt, ...(typeof value.url === 'string' ? { url: value.url } : {}) };
  } catch {
    return undefined;
  }
}

/** The refusal a second process gets: who holds the directory and what to do about it. */
function inUseError(dataDir: string): HangarError {
  const pid = lockHolderPid(path.join(dataDir, LOCK_FILE));
  const recorded = readDataDirOwner(dataDir);
  const owner = recorded !== undefined && (pid === undefined || recorded.pid === pid) ? recorded : undefined;
  const holderPid = pid ?? owner?.pid;
  const who = [
    holderPid !== undefined ? `pid ${holderPid}` : 'pid unknown',
    ...(owner !== undefined ? [`\`${owner.command}\` since ${owner.startedAt}`] : []),
    ...(owner?.url !== undefined ? [`API at ${owner.url}`] : []),
  ].join(', ');
  const todo = [
    ...(owner?.url !== undefined ? [`use that server (hangar run --server ${owner.url})`] : []),
    `stop it${holderPid !== undefined ? ` (kill ${holderPid})` : ''}`,
    'or choose another data directory (--data-dir, HANGAR_DATA_DIR)',
  ].join(', ');
  return new HangarError(
    'DATA_DIR_IN_USE',
    `data directory ${dataDir} is in use by another Hangar process (${who}); one data directory has one owner: ${todo}`,
    {
      details: { dataDir, ...(holderPid !== undefined ? { pid: holderPid } : {}), ...(owner !== undefined ? { owner } : {}) },
    },
  );
}

function writeOwnerFile(dataDir: string, owner: DataDirOwner): void {
  const file = path.join(dataDir, OWNER_FILE);
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(owner)}\n`, { mode: 0o644 });
  renameSync(temporary, file);
}

/**
 * Takes the data directory's lock at once or fails with DATA_DIR_IN_USE naming the holder.
 * The directory must exist.
 */
export function acquireDataDirLock(dataDir: string, command: string): DataDirLock {
  const lockFile = path.join(dataDir, LOCK_FILE);
  let db: Database.Database;
  try {
    db = new Database(lockFile, { timeout: 0 });
  } catch (error) {
    throw new HangarError('CONFIG_INVALID', `cannot open the lock file ${lockFile}: ${(error as Error).message}`, { cause: error });
  }
  try {
    // Exclusive locking mode keeps the lock; a journal in memory leaves no file beside it.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = MEMORY');
    db.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    db.close();
    if (isBusy(error)) throw inUseError(dataDir);
    throw new HangarError('CONFIG_INVALID', `cannot lock the data directory ${dataDir}: ${(error as Error).message}`, { cause: error });
  }
  held.add(db);
  let owner: DataDirOwner = { pid: process.pid, command, startedAt: new Date().toISOString() };
  let released = false;
  try {
    writeOwnerFile(dataDir, owner);
  } catch (error) {
    held.delete(db);
    db.close();
    throw new HangarError('CONFIG_INVALID', `cannot write ${path.join(dataDir, OWNER_FILE)}: ${(error as Error).message}`, { cause: error });
  }
  return {
    dataDir,
    setUrl(url) {
      if (released) return;
      owner = { ...owner, url };
      writeOwnerFile(dataDir, owner);
    },
    release() {
      if (released) return;
      released = true;
      // The owner file goes first: a reader never sees it describe a process that no longer holds the lock.
      try {
        unlinkSync(path.join(dataDir, OWNER_FILE));
      } catch {
        // Already gone.
      }
      held.delete(db);
      db.close();
    },
  };
}
