// The ext4 backing: each sandbox's workspace and scratch are sparse image files, formatted ext4 and
// loop-mounted. The builders of the format and mount commands are pure; mountExt4() runs them.
import { shellQuote } from '../../../host-shell.js';
import { fstabLine } from './fstab.js';

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
export const MKFS_EXT4_ARGS: readonly string[] = ['-q', '-F', '-b', String(EXT4_BLOCK_SIZE), '-i', '16384', '-I', '256', '-m', '0', '-O', '^has_journal,^resize_inode'];
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
