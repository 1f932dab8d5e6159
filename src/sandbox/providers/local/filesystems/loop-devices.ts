// Loop devices holding ext4 images: which image a device is bound to (from sysfs), which device a
// mount point lives on, and detaching those a teardown or a crash left attached.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { HostShell } from '../../../host-shell.js';
import { stderrOf } from '../errors.js';
import { isUnder } from '../layout.js';

/** A loop device bound to one of a sandbox's images. */
export interface LoopRef {
  device: string;
  /** sysfs directory of the device's loop attributes. */
  sysfs: string;
  image: string;
}

/** Reads a loop device's backing file from sysfs (without the " (deleted)" suffix); undefined when unbound. */
export async function loopBackingFile(sysfsLoopDir: string): Promise<string | undefined> {
  try {
    const text = (await readFile(path.join(sysfsLoopDir, 'backing_file'), 'utf8')).replace(/\n$/, '');
    return text.endsWith(' (deleted)') ? text.slice(0, -' (deleted)'.length) : text;
  } catch {
    return undefined;
  }
}

/** True while the loop device is still bound to its image. */
export async function isBound(loop: LoopRef): Promise<boolean> {
  return (await loopBackingFile(loop.sysfs)) === loop.image;
}

/** The loop device a mount point's filesystem lives on (from its st_dev), or undefined. */
export async function loopOfMountPoint(mountPoint: string, image: string): Promise<LoopRef | undefined> {
  const dev = (await stat(mountPoint)).dev;
  const major = (dev >> 8) & 0xfff;
  const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
  const sysfs = `/sys/dev/block/${major}:${minor}/loop`;
  if ((await loopBackingFile(sysfs)) === undefined) return undefined;
  return { device: `/dev/loop${minor}`, sysfs, image };
}

/** Every bound loop device on the host with its backing file (scans /sys/block). */
export async function listLoopDevices(): Promise<Array<{ device: string; backingFile: string }>> {
  const found: Array<{ device: string; backingFile: string }> = [];
  for (const name of await readdir('/sys/block').catch(() => [] as string[])) {
    if (!/^loop\d+$/.test(name)) continue;
    const backingFile = await loopBackingFile(path.join('/sys/block', name, 'loop'));
    if (backingFile !== undefined) found.push({ device: `/dev/${name}`, backingFile });
  }
  return found;
}

/** Detaches loop devices with losetup -d; a device still in use is freed when its last user goes. */
export async function detachLoops(losetup: string | undefined, devices: string[], shell: HostShell): Promise<void> {
  if (devices.length === 0) return;
  if (losetup === undefined) throw new Error(`losetup not found: cannot detach ${devices.join(', ')} (apt-get install mount)`);
  const problems: string[] = [];
  for (const device of devices) {
    try {
      await shell.run(losetup, ['-d', device]);
    } catch (error) {
      const stderr = stderrOf(error);
      // Already detached (autoclear on unmount won the race).
      if (/no such device|no such file/i.test(stderr)) continue;
      problems.push(`${device}: ${stderr || (error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new Error(`cannot detach loop devices: ${problems.join('; ')}`);
}

/** Detaches the loop devices of a sandbox that are still bound to its images (unmounting frees them). */
export async function releaseLoops(losetup: string | undefined, loops: readonly LoopRef[], shell: HostShell): Promise<void> {
  const bound: string[] = [];
  for (const loop of loops) if (await isBound(loop)) bound.push(loop.device);
  await detachLoops(losetup, bound, shell);
}

/** Detaches every loop device whose backing file lies under a host directory (scans all loop devices). */
export async function releaseLoopsUnder(losetup: string | undefined, dir: string, shell: HostShell): Promise<void> {
  const devices = (await listLoopDevices()).filter((loop) => isUnder(loop.backingFile, dir)).map((loop) => loop.device);
  await detachLoops(losetup, devices, shell);
}
