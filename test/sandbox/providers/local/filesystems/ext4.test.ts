// The ext4 and tmpfs backings' format, fstab and mount builders: checked as values, and the format and
// mount script run with stand-in mkfs.ext4 and mount programs, without root.
import { execFile } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ext4Fstab, formatAndMountScript, imageBytes, MKFS_EXT4_ARGS, mkfsExt4Command } from '../../../../../src/sandbox/providers/local/filesystems/ext4.js';
import { fstabEscape } from '../../../../../src/sandbox/providers/local/filesystems/fstab.js';
import { tmpfsFstab } from '../../../../../src/sandbox/providers/local/filesystems/tmpfs.js';
import { useTempDir } from '../../../../helpers/temp-dirs.js';

const execFileAsync = promisify(execFile);
const dir = useTempDir('hangar ext4-');

describe('local sandbox filesystems', () => {
  it('formats a throwaway ext4: no journal, no resize inode, 4 KiB blocks, nothing reserved, lazy tables, the sandbox uid owning the root', () => {
    expect(MKFS_EXT4_ARGS).toEqual(['-q', '-F', '-b', '4096', '-i', '16384', '-I', '256', '-m', '0', '-O', '^has_journal,^resize_inode']);
    expect(mkfsExt4Command('/sbin/mkfs.ext4', 200_003)).toBe(
      `'/sbin/mkfs.ext4' '-q' '-F' '-b' '4096' '-i' '16384' '-I' '256' '-m' '0' '-O' '^has_journal,^resize_inode' -E 'nodiscard,lazy_itable_init=1,lazy_journal_init=1,root_owner=200003:200003'`,
    );
  });

  it('sizes images in whole 4 KiB blocks', () => {
    expect(imageBytes(64)).toBe(64 * 1024 * 1024);
    expect(imageBytes(0.001)).toBe(4096);
    expect(imageBytes(1.5)).toBe(1.5 * 1024 * 1024);
  });

  it('lists loop mounts in an fstab, with whitespace in paths escaped', () => {
    expect(fstabEscape('/a b\\c\td')).toBe('/a\\040b\\134c\\011d');
    expect(ext4Fstab([{ image: '/s b/x/workspace.img', mountPoint: '/s b/x/workspace' }])).toBe(
      '/s\\040b/x/workspace.img /s\\040b/x/workspace ext4 loop,nosuid,nodev,noatime,noinit_itable,nobarrier 0 0\n',
    );
  });

  it('lists size-capped tmpfs owned by the sandbox uid', () => {
    expect(tmpfsFstab({ id: 'sbx-1', uid: 200_004, workspace: '/r/sbx-1/workspace', scratch: '/r/sbx-1/scratch', diskMb: 64, scratchMb: 0.5 })).toBe(
      'hangar-sbx-1-workspace /r/sbx-1/workspace tmpfs size=64m,mode=0755,uid=200004,gid=200004,nosuid,nodev 0 0\n' +
        'hangar-sbx-1-scratch /r/sbx-1/scratch tmpfs size=1m,mode=0700,uid=200004,gid=200004,nosuid,nodev 0 0\n',
    );
  });

  it('formats both images, then mounts them with one mount -a, failing when a format fails', async () => {
    const log = path.join(dir, 'log');
    const mkfs = path.join(dir, 'mkfs ext4');
    const mount = path.join(dir, 'mount');
    await writeFile(mkfs, `#!/bin/sh\ncase "$*" in *fail.img*) exit 3 ;; esac\necho "mkfs $*" >> '${log}'\n`);
    await writeFile(mount, `#!/bin/sh\necho "mount $*" >> '${log}'\n`);
    await Promise.all([chmod(mkfs, 0o755), chmod(mount, 0o755)]);
    const script = formatAndMountScript({ mkfsExt4: mkfs, mount }, 200_005);
    await execFileAsync('/bin/sh', ['-c', script, 'hangar-ext4', '/i/workspace.img', '/i/scratch.img', '/i/fstab']);
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    expect(lines.slice(0, 2).sort()).toEqual([
      'mkfs -q -F -b 4096 -i 16384 -I 256 -m 0 -O ^has_journal,^resize_inode -E nodiscard,lazy_itable_init=1,lazy_journal_init=1,root_owner=200005:200005 /i/scratch.img',
      'mkfs -q -F -b 4096 -i 16384 -I 256 -m 0 -O ^has_journal,^resize_inode -E nodiscard,lazy_itable_init=1,lazy_journal_init=1,root_owner=200005:200005 /i/workspace.img',
    ]);
    expect(lines[2]).toBe('mount -a --fstab /i/fstab');
    await writeFile(log, '');
    await expect(execFileAsync('/bin/sh', ['-c', script, 'hangar-ext4', '/i/workspace.img', '/i/fail.img', '/i/fstab'])).rejects.toMatchObject({ code: 3 });
    expect(await readFile(log, 'utf8')).not.toContain('mount');
  });
});
