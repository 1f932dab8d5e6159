// Host-side checks for tests of the local sandbox provider: what a sandbox leaves on the host.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, realpath } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import type { LocalSandbox } from '../../src/sandbox/providers/local/index.js';
import type { Sandbox } from '../../src/sandbox/sandbox-provider.js';

/** A fresh root dir for sandboxes under the system temp dir. */
export function makeSandboxRoot(prefix = 'hangar-sandboxes-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Mount points from /proc/self/mountinfo (octal escapes decoded). */
export async function mountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined)
    .map((point) => point.replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(parseInt(octal, 8))));
}

/** Bound loop devices with their backing files (from sysfs; a deleted file keeps its " (deleted)" suffix). */
export async function loopDevices(): Promise<Array<{ device: string; backingFile: string }>> {
  const found: Array<{ device: string; backingFile: string }> = [];
  for (const name of await readdir('/sys/block').catch(() => [] as string[])) {
    if (!name.startsWith('loop')) continue;
    const backingFile = await readFile(`/sys/block/${name}/loop/backing_file`, 'utf8').catch(() => undefined);
    if (backingFile !== undefined) found.push({ device: `/dev/${name}`, backingFile: backingFile.trim() });
  }
  return found;
}

/** Loop devices whose backing file lies under a host directory (which may no longer exist). */
export async function loopDevicesUnder(dir: string): Promise<string[]> {
  const real = path.join(await realpath(path.dirname(dir)), path.basename(dir));
  return (await loopDevices()).filter((loop) => loop.backingFile.startsWith(`${real}/`)).map((loop) => `${loop.device} ${loop.backingFile}`);
}

/** The host uid fields (real, effective, saved, fs) of a process, or undefined when it is gone. */
export async function hostUids(pid: number): Promise<number[] | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const line = status.split('\n').find((entry) => entry.startsWith('Uid:'));
    return line?.split(/\s+/).slice(1).filter(Boolean).map(Number);
  } catch {
    return undefined;
  }
}

/** True when a pid names a live (non-zombie) process. */
export async function isRunning(pid: number): Promise<boolean> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

/**
 * Waits (bounded) until none of the pids runs. A killed process leaves its cgroup early in its exit
 * path, so right after a group empties its pids may still show as running for a moment.
 */
export async function waitAllGone(pids: number[], timeoutMs = 3000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const running: number[] = [];
    for (const pid of pids) if (await isRunning(pid)) running.push(pid);
    if (running.length === 0 || Date.now() > deadline) return running;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Asserts a destroyed local sandbox left no process, cgroup, mount, loop device or directory. */
export async function assertLocalSandboxGone(sandbox: Sandbox, pids: number[] = []): Promise<void> {
  const local = sandbox as LocalSandbox;
  // destroy() returns once nothing runs; filesystems may still be released in the background.
  await local.released;
  expect(existsSync(local.hostDir), `${local.hostDir} remains`).toBe(false);
  if (local.releasedDir !== undefined) {
    const releasedDir = local.releasedDir;
    expect(existsSync(releasedDir), `${releasedDir} remains after the background release`).toBe(false);
    expect((await mountPoints()).filter((point) => point === releasedDir || point.startsWith(`${releasedDir}/`))).toEqual([]);
  }
  for (const cgroupPath of local.cgroupPaths) expect(existsSync(cgroupPath), `${cgroupPath} remains`).toBe(false);
  const mounts = await mountPoints();
  expect(mounts.filter((point) => point === local.hostDir || point.startsWith(`${local.hostDir}/`))).toEqual([]);
  expect(await loopDevicesUnder(local.hostDir), 'loop devices remain').toEqual([]);
  expect(await waitAllGone(pids), 'pids still running').toEqual([]);
  expect(existsSync(`/run/hangar/uids/${local.hostUid}`) && (await readFile(`/run/hangar/uids/${local.hostUid}`, 'utf8')).includes(` ${local.id}\n`)).toBe(
    false,
  );
}

/** Resolves when a spawned process exits. */
export function exitOf(child: {
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
}): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}
