// The tmpfs backing: each sandbox's workspace and scratch are size-capped tmpfs mounts, owned by the
// sandbox uid. tmpfsFstab() is pure; mountTmpfs() runs the mount.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { HostShell } from '../../../host-shell.js';
import { mountPointsOf } from '../layout.js';
import { fstabLine } from './fstab.js';

/** tmpfs mount options: `sizeMb` rounded up, mode, owner, and no setuid or device files. */
export function tmpfsOptions(sizeMb: number, mode: string, uid: number): string {
  return `size=${Math.ceil(sizeMb)}m,mode=${mode},uid=${uid},gid=${uid},nosuid,nodev`;
}

/** The fstab of a sandbox's two tmpfs: the workspace (0755) and the scratch area (0700). */
export function tmpfsFstab(options: { id: string; uid: number; workspace: string; scratch: string; diskMb: number; scratchMb: number }): string {
  const { id, uid } = options;
  return (
    fstabLine(`hangar-${id}-workspace`, options.workspace, 'tmpfs', tmpfsOptions(options.diskMb, '0755', uid)) +
    fstabLine(`hangar-${id}-scratch`, options.scratch, 'tmpfs', tmpfsOptions(options.scratchMb, '0700', uid))
  );
}

/** Mounts a sandbox directory's two tmpfs (workspace and scratch) with one `mount -a --fstab` run. */
export async function mountTmpfs(
  mountProgram: string,
  dir: string,
  sandbox: { id: string; uid: number; diskMb: number; scratchMb: number },
  shell: HostShell,
): Promise<void> {
  const [workspace, scratch] = mountPointsOf(dir);
  const fstab = path.join(dir, 'fstab');
  await writeFile(fstab, tmpfsFstab({ ...sandbox, workspace, scratch }), { mode: 0o600 });
  await shell.run(mountProgram, ['-a', '--fstab', fstab]);
}
