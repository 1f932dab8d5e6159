// The orphan sweep, run by preflight: removes what crashed Hangar processes left on the host.
import { lstat, readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { removeTreeByDescriptor } from '../../../safe-remove.js';
import type { ProviderContext } from '../context.js';
import { detachLoops, listLoopDevices } from '../filesystems/loop-devices.js';
import { removeSandboxDir, unmount } from '../filesystems/mounts.js';
import type { HostTools } from '../host/host-tools.js';
import { isAlive } from '../host/uid-allocator.js';
import { isUnder, mountPointsOf } from '../layout.js';
import { ID_PATTERN } from '../spec-validation.js';

/**
 * Removes what crashed Hangar processes left: groups and sandbox dirs whose id no live process
 * holds a uid reservation for (a reservation is made before, and released after, everything else).
 */
export async function sweepOrphans(ctx: ProviderContext, tools: HostTools): Promise<void> {
  const { settings, logger, cgroups, hostShell } = ctx;
  const { rootDir, uidLockDir, uidRangeStart, uidRangeSize, workspaceBacking: backing } = settings;
  const { realRootDir } = ctx.state;
  // Cgroups are listed before reservations are read: a sandbox reserves its uid before it makes
  // its cgroup, so every group in this list that a live process is creating has its
  // reservation in place by the time the reservations are read.
  const cgroupNames = await cgroups.list();
  const owned = new Set<string>();
  for (const entry of await readdir(uidLockDir).catch(() => [] as string[])) {
    const file = path.join(uidLockDir, entry);
    if (entry.endsWith('.tmp')) {
      // `<uid>.<pid>.<random>.tmp`: a reservation being made; removed when its process is gone.
      const writer = Number(entry.split('.')[1]);
      if (Number.isInteger(writer) && writer > 0 && writer !== process.pid && !isAlive(writer)) await unlink(file).catch(() => undefined);
      continue;
    }
    const [pidText, owner] = (await readFile(file, 'utf8').catch(() => '')).trim().split(' ');
    const pid = Number(pidText);
    // Unreadable content counts as live (it is never empty: see tryReserve).
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || isAlive(pid)) {
      if (owner !== undefined) owned.add(owner);
      continue;
    }
    await unlink(file).catch(() => undefined);
  }
  const swept: string[] = [];
  for (const name of cgroupNames) {
    if (owned.has(name)) continue;
    try {
      await (await cgroups.open(name)).remove();
      swept.push(`cgroup ${name}`);
    } catch (error) {
      logger?.warn({ cgroup: name, err: error }, 'cannot remove orphaned sandbox cgroup');
    }
  }
  /** A pool directory's entry whose process is gone (`.pool-<pid>-<n>`). */
  const deadPool = (entry: string): boolean => {
    const match = /^\.pool-(\d+)-\d+$/.exec(entry);
    return match !== null && Number(match[1]) !== process.pid && !isAlive(Number(match[1]));
  };
  const orphans = (await readdir(rootDir).catch(() => [] as string[])).filter((entry) => (ID_PATTERN.test(entry) && !owned.has(entry)) || deadPool(entry));
  const unmounted: string[] = [];
  for (const entry of orphans) {
    const dir = path.join(rootDir, entry);
    try {
      await unmount(tools, backing, [...mountPointsOf(dir), dir], hostShell);
      unmounted.push(entry);
    } catch (error) {
      logger?.warn({ dir, err: error }, 'cannot unmount orphaned sandbox directory');
    }
  }
  // Loop devices still bound to an orphan's image (attached but never mounted, or mounted
  // elsewhere), whether or not the image file still exists. Unmounting freed the others.
  for (const loop of await listLoopDevices()) {
    if (!isUnder(loop.backingFile, realRootDir)) continue;
    const owner = path.relative(realRootDir, loop.backingFile).split(path.sep)[0] ?? '';
    if (!((ID_PATTERN.test(owner) && !owned.has(owner)) || deadPool(owner))) continue;
    try {
      await detachLoops(tools.losetup, [loop.device], hostShell);
      swept.push(`loop ${loop.device} (${loop.backingFile})`);
    } catch (error) {
      logger?.warn({ device: loop.device, backingFile: loop.backingFile, err: error }, 'cannot detach orphaned sandbox loop device');
    }
  }
  for (const entry of unmounted) {
    const dir = path.join(rootDir, entry);
    try {
      // Removes the image files too.
      await removeSandboxDir(dir);
      swept.push(`dir ${entry}`);
    } catch (error) {
      logger?.warn({ dir, err: error }, 'cannot remove orphaned sandbox directory');
    }
  }
  // Resumed-transcript directories that earlier Hangar builds handed to sandbox uids in the
  // host's /tmp (bound in writable): removed by descriptor, whatever a sandbox planted in them.
  for (const entry of await readdir('/tmp').catch(() => [] as string[])) {
    if (!entry.startsWith('claude-resume-')) continue;
    const leftover = path.join('/tmp', entry);
    const owner = (await lstat(leftover).catch(() => undefined))?.uid;
    if (owner === undefined || owner < uidRangeStart || owner >= uidRangeStart + uidRangeSize) continue;
    const { left } = await removeTreeByDescriptor(leftover);
    if (left.length === 0) swept.push(`sandbox-owned ${leftover}`);
    else logger?.warn({ dir: leftover, left: left.slice(0, 5) }, 'cannot remove a sandbox-owned directory from /tmp');
  }
  if (swept.length > 0) logger?.warn({ swept }, 'removed leftovers of sandboxes whose Hangar process is gone');
}
