// Small file and process helpers shared by the cgroup v1 and v2 code: reading and writing control
// files, creating and removing group directories, listing and killing the processes of a group.
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HangarError } from '../../errors/errors.js';

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const CPU_PERIOD_US = 100_000;
export const MIB = 1024 * 1024;

/** A file's text, or undefined when it does not exist. */
export async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

/** A control file holding one number, or undefined when it does not exist or is not a number. */
export async function readNumber(file: string): Promise<number | undefined> {
  const text = (await readText(file))?.trim();
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

export async function exists(file: string): Promise<boolean> {
  try {
    await access(file, fsConstants.F_OK);
    return true;
  } catch {
    return false;
  }
}

export function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}

export function unavailable(message: string, cause?: unknown): HangarError {
  return new HangarError('SANDBOX_UNAVAILABLE', message, cause === undefined ? undefined : { cause });
}

/** Writes a controller file, naming it in the error. */
export async function writeControl(file: string, value: string): Promise<void> {
  try {
    await writeFile(file, value);
  } catch (error) {
    throw new HangarError('SANDBOX_FAILED', `cannot write ${JSON.stringify(value)} to ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** Validates a cgroup path relative to a hierarchy root (one or more plain segments). */
export function validateRelative(value: string, what: string): void {
  const segments = value.split('/');
  if (segments.length === 0 || !segments.every((segment) => NAME_PATTERN.test(segment))) {
    throw new HangarError('VALIDATION_FAILED', `invalid cgroup ${what}: ${JSON.stringify(value)}`);
  }
}

/** CFS quota in microseconds per period for a CPU share in cores. */
export function cpuQuota(cpus: number): number {
  return Math.max(1000, Math.round(cpus * CPU_PERIOD_US));
}

export function parseKeyedCount(text: string | undefined, key: string): number {
  if (text === undefined) return 0;
  for (const line of text.split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (name === key && value !== undefined) return Number(value) || 0;
  }
  return 0;
}

export function parsePids(text: string | undefined): number[] {
  if (text === undefined) return [];
  return text
    .split('\n')
    .map((line) => Number(line.trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

/** Removes a cgroup directory, retrying while the kernel still counts exiting tasks. */
export async function removeDir(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      await rmdir(dir);
      return;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return;
      if (!isErrno(error, 'EBUSY') || attempt >= 100) {
        throw new HangarError('SANDBOX_FAILED', `cannot remove cgroup ${dir}: ${(error as Error).message}`, { cause: error });
      }
      await sleep(attempt < 10 ? 1 : 10);
    }
  }
}

/** Creates a group directory; a leftover empty group of the same name is replaced. */
export async function mkdirFresh(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (error) {
    if (!isErrno(error, 'EEXIST')) {
      throw new HangarError('SANDBOX_FAILED', `cannot create cgroup ${dir}: ${(error as Error).message}`, { cause: error });
    }
    if (parsePids(await readText(path.join(dir, 'cgroup.procs'))).length > 0) {
      throw new HangarError('SANDBOX_FAILED', `cgroup ${dir} already exists and holds processes`);
    }
    await removeDir(dir);
    await mkdir(dir);
  }
}

function sendKill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // The process is already gone.
  }
}

/** Sends SIGKILL to every pid listed until the group is empty (bounded). */
export async function killLoop(listPids: () => Promise<number[]>, rounds = 200): Promise<boolean> {
  for (let round = 0; round < rounds; round += 1) {
    const pids = await listPids();
    if (pids.length === 0) return true;
    for (const pid of pids) sendKill(pid);
    await sleep(round < 20 ? 1 : 10);
  }
  return (await listPids()).length === 0;
}

/** Sends SIGKILL to each pid once. */
export function killAll(pids: number[]): void {
  for (const pid of pids) sendKill(pid);
}

/** Waits until a group is empty without sending anything (bounded). */
export async function waitEmpty(listPids: () => Promise<number[]>, rounds = 200): Promise<boolean> {
  for (let round = 0; round < rounds; round += 1) {
    if ((await listPids()).length === 0) return true;
    await sleep(round < 20 ? 1 : 10);
  }
  return false;
}

export function assertPositiveLimits(limits: { memoryBytes: number; cpus: number; pids: number }): void {
  if (!(limits.memoryBytes > 0) || !(limits.cpus > 0) || !(limits.pids > 0)) {
    throw new HangarError('VALIDATION_FAILED', 'cgroup limits must be positive');
  }
}
