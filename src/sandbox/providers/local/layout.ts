// Where a local sandbox's things are, inside it and in its host directory. Pure names: no I/O.
import path from 'node:path';

/** The workspace inside every sandbox. */
export const WORKSPACE_PATH = '/workspace';
/** HOME inside every sandbox. */
export const HOME_PATH = '/home/agent';
/** The uid and gid of the sandbox user inside (its user namespace maps it to the sandbox's host uid). */
export const INSIDE_ID = 1000;
export const SANDBOX_HOSTNAME = 'hangar';
/** Directory inside holding the bridges' unix sockets (`<name>.sock`). */
export const BRIDGE_DIR = '/run/hangar';
/** Where a spec's readOnlyFiles may be placed inside. */
export const GIVEN_FILES_DIR = '/run/hangar/files';
/** Most bytes of a spec's readOnlyFiles together. */
export const MAX_GIVEN_FILES_BYTES = 4 * 1024 * 1024;
/** Read-only directory inside holding the command files of launchers (see launch/warm-launcher.ts). */
export const LAUNCH_DIR = `${BRIDGE_DIR}/launch`;
/** PATH of every sandbox process unless the request sets one; also where host tools are looked up. */
export const DEFAULT_SEARCH_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Directory on the scratch filesystem holding Hangar's files for the sandbox (root-owned). */
export const HANGAR_SCRATCH_DIR = 'hangar';
/** Prefix of the directories of prepared ext4 image pairs and released sandboxes: `<rootDir>/.pool-<pid>-<n>`. */
export const POOL_PREFIX = '.pool-';
export const MIB = 1024 * 1024;

/** The mount points inside a sandbox's host directory: workspace, scratch. */
export function mountPointsOf(dir: string): [workspace: string, scratch: string] {
  return [path.join(dir, 'workspace'), path.join(dir, 'scratch')];
}

/** Host directory of Hangar's own files for a sandbox (generated /etc files, /proc masks, launch specs). */
/** Where the given file number `index` of a spec's readOnlyFiles is kept on the sandbox's scratch filesystem. */
export function givenFilePath(dir: string, index: number): string {
  return path.join(hangarFilesDir(dir), 'given', String(index));
}

export function hangarFilesDir(dir: string): string {
  return path.join(dir, 'scratch', HANGAR_SCRATCH_DIR);
}

/** Host directory of the launchers' spec files (bound read-only at LAUNCH_DIR). */
export function launchSpecDir(dir: string): string {
  return path.join(hangarFilesDir(dir), 'launch');
}

/** True when `candidate` is `root` or lies under it. */
export function isUnder(candidate: string, root: string): boolean {
  return candidate === root || candidate.startsWith(root.endsWith('/') ? root : `${root}/`);
}
