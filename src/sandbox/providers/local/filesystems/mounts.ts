// Releasing a sandbox's filesystems: unmounting its workspace and scratch (and with the ext4 backing
// detaching their loop devices), and removing its host directory by descriptor.
import path from 'node:path';
import type { HostShell } from '../../../host-shell.js';
import { removeTreeByDescriptor } from '../../../safe-remove.js';
import { stderrOf } from '../errors.js';
import type { HostTools } from '../host/host-tools.js';
import { mountPointsOf } from '../layout.js';
import type { WorkspaceBacking } from '../settings.js';
import { releaseLoops, releaseLoopsUnder, type LoopRef } from './loop-devices.js';

/** Unmounts mount points (one umount run in the common case); ignores those not mounted. */
export async function unmount(tools: Pick<HostTools, 'umount'>, backing: WorkspaceBacking, dirs: string[], shell: HostShell): Promise<void> {
  try {
    // -d frees the loop devices of ext4 images in the same call (no losetup round trip).
    await shell.run(tools.umount, backing === 'ext4' ? ['-d', ...dirs] : dirs);
    return;
  } catch {
    // One of them failed: handle each on its own.
  }
  for (const dir of dirs) {
    try {
      await shell.run(tools.umount, [dir]);
    } catch (error) {
      if (/not mounted|no mount point|no such file/i.test(stderrOf(error))) continue;
      // Busy: detach it now, the kernel frees it when the last user goes.
      await shell.run(tools.umount, ['-l', dir]);
    }
  }
}

/** Where a sandbox's filesystems are released from. */
export interface MountsHost {
  tools: Pick<HostTools, 'umount' | 'losetup'>;
  backing: WorkspaceBacking;
  /** rootDir with symlinks resolved, as loop devices report their backing files. */
  realRootDir: string;
}

/**
 * Unmounts a sandbox's workspace and scratch; with the ext4 backing also detaches its loop devices
 * (the recorded ones when known, else any bound to an image in its directory).
 */
export async function releaseMounts(host: MountsHost, dir: string, loops: readonly LoopRef[] | undefined, shell: HostShell): Promise<void> {
  await unmount(host.tools, host.backing, mountPointsOf(dir), shell);
  if (host.backing !== 'ext4') return;
  if (loops !== undefined) await releaseLoops(host.tools.losetup, loops, shell);
  else await releaseLoopsUnder(host.tools.losetup, path.join(host.realRootDir, path.basename(dir)), shell);
}

/**
 * Removes a sandbox's host directory once its filesystems are unmounted, by descriptor (see
 * safe-remove.ts): whatever a sandbox left in it is never followed. Fails when something is left.
 */
export async function removeSandboxDir(dir: string): Promise<void> {
  const { left } = await removeTreeByDescriptor(dir);
  if (left.length > 0) throw new Error(`cannot remove ${left.length} entries: ${left.slice(0, 3).join('; ')}`);
}
