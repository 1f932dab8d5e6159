// The ext4 backing: each sandbox's workspace and scratch are sparse image files, formatted ext4 and
// loop-mounted. The builders of the format and mount commands are pure; mountExt4() runs them.
import { constants as fsConstants } from 'node:fs';
import { chmod, open, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { shellQuote, type HostShell } from '../../../host-shell.js';
import { stderrOf } from '../errors.js';
import type { HostTools } from '../host/host-tools.js';
import { mountPointsOf } from '../layout.js';
import { fstabLine } from './fstab.js';
import { loopOfMountPoint, type LoopRef } from './loop-devices.js';

export const EXT4_BLOCK_SIZE = 4096;
/**
 * mkfs.ext4 options, chosen for a fast format of a throwaway filesystem (~2 ms for 5 GiB):
 * - no journal: a journal keeps a filesystem consistent across a host crash, but a sandbox's image is
 *   never mounted again after one (the orphan sweep deletes it), so it would only cost writes;
 * - no resize_inode: nothing ever grows the image, and its reserved GDT blocks are most of mkfs's writes;
 * - lazy inode tables and journal, no discard: mkfs writes only the superblocks, group descriptors and
 *   bitmaps; the untouched rest of the sparse file reads as zeros, which is what those tables need;
 * - 4 KiB blocks and one 256-byte inode per 16 KiB even on small images (mke2fs would pick 1 KiB
 *   blocks below 512 MiB), no blocks reserved for root.
 * The uid owning the root directory is appended (root_owner).
 */
export const MKFS_EXT4_ARGS: readonly string[] = [
  '-q',
  '-F',
  '-b',
  String(EXT4_BLOCK_SIZE),
  '-i',
  '16384',
  '-I',
  '256',
  '-m',
  '0',
  '-O',
  '^has_journal,^resize_inode',
];
export const MKFS_EXT4_EXTENDED = 'nodiscard,lazy_itable_init=1,lazy_journal_init=1';
/**
 * Mount options of an ext4 image: noinit_itable keeps the kernel from zeroing inode tables in the
 * background (they already read as zeros); nobarrier makes fsync inside the sandbox stop at the loop
 * device instead of flushing the host disk (the data is thrown away with the sandbox anyway).
 */
export const EXT4_MOUNT_OPTIONS = 'loop,nosuid,nodev,noatime,noinit_itable,nobarrier';

/** Bytes of an image of `sizeMb` MiB: rounded up to whole blocks. */
export function imageBytes(sizeMb: number): number {
  return Math.ceil((sizeMb * 1024 * 1024) / EXT4_BLOCK_SIZE) * EXT4_BLOCK_SIZE;
}

/** The mkfs.ext4 command (shell words) formatting an image whose root directory uid `uid` owns. */
export function mkfsExt4Command(mkfs: string, uid: number): string {
  return [shellQuote(mkfs), ...MKFS_EXT4_ARGS.map(shellQuote), '-E', shellQuote(`${MKFS_EXT4_EXTENDED},root_owner=${uid}:${uid}`)].join(' ');
}

/**
 * The sh script formatting two images at once and mounting both from an fstab, as one child process:
 *   sh -c '<script>' hangar-ext4 <image 1> <image 2> <fstab>
 */
export function formatAndMountScript(tools: { mkfsExt4: string; mount: string }, uid: number): string {
  const mkfs = mkfsExt4Command(tools.mkfsExt4, uid);
  return `${mkfs} "$1" & __hangar_mkfs=$!\n${mkfs} "$2" || exit $?\nwait $__hangar_mkfs || exit $?\nexec ${shellQuote(tools.mount)} -a --fstab "$3"`;
}

/** The fstab loop-mounting each image on its mount point (mount sets each loop device up with autoclear). */
export function ext4Fstab(mounts: ReadonlyArray<{ image: string; mountPoint: string }>): string {
  return mounts.map(({ image, mountPoint }) => fstabLine(image, mountPoint, 'ext4', EXT4_MOUNT_OPTIONS)).join('');
}

/** Creates a sparse image file of `sizeMb` (root-only). */
async function makeSparseFile(file: string, sizeMb: number): Promise<void> {
  const handle = await open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
  try {
    await handle.truncate(imageBytes(sizeMb));
  } finally {
    await handle.close();
  }
}

/**
 * Makes a sandbox directory's two ext4 images and loop-mounts them with one child process (every
 * process Hangar starts costs a fork of its whole address space): the sparse image files are created
 * here first, then formatAndMountScript() formats both and mounts them from a private fstab; mount
 * sets each loop device up with autoclear, so unmounting frees it. `realRootDir` is the sandboxes'
 * root with symlinks resolved (as sysfs names backing files). Returns the loop devices.
 */
export async function mountExt4(
  host: { tools: Pick<HostTools, 'sh' | 'mkfsExt4' | 'mount'>; realRootDir: string },
  dir: string,
  sizes: { uid: number; diskMb: number; scratchMb: number },
  shell: HostShell,
): Promise<LoopRef[]> {
  const { tools } = host;
  const [workspace, scratch] = mountPointsOf(dir);
  const images = [path.join(dir, 'workspace.img'), path.join(dir, 'scratch.img')] as const;
  const fstab = path.join(dir, 'fstab');
  await Promise.all([
    makeSparseFile(images[0], sizes.diskMb),
    makeSparseFile(images[1], sizes.scratchMb),
    writeFile(
      fstab,
      ext4Fstab([
        { image: images[0], mountPoint: workspace },
        { image: images[1], mountPoint: scratch },
      ]),
      { mode: 0o600 },
    ),
  ]);
  const script = formatAndMountScript({ mkfsExt4: tools.mkfsExt4 as string, mount: tools.mount }, sizes.uid);
  try {
    await shell.run(tools.sh, ['-c', script, 'hangar-ext4', images[0], images[1], fstab], { timeoutMs: 60_000 });
  } catch (error) {
    throw new Error(`cannot make and mount the ext4 images (${sizes.diskMb} + ${sizes.scratchMb} MiB): ${stderrOf(error) || (error as Error).message}`, {
      cause: error,
    });
  }
  // lost+found serves fsck, which never runs on these filesystems; it would show in the workspace.
  await Promise.all([rmdir(path.join(workspace, 'lost+found')), rmdir(path.join(scratch, 'lost+found')), chmod(scratch, 0o700)]);
  const realDir = path.join(host.realRootDir, path.basename(dir));
  const loops = await Promise.all([
    loopOfMountPoint(workspace, path.join(realDir, 'workspace.img')),
    loopOfMountPoint(scratch, path.join(realDir, 'scratch.img')),
  ]);
  if (loops.some((loop) => loop === undefined)) throw new Error(`the workspace and scratch of ${dir} are not mounted from loop devices`);
  return loops as LoopRef[];
}
