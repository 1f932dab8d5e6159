// Finds the cgroup hierarchies of the host: parses /proc/self/mountinfo, tells v1 from v2, and
// mounts a small hierarchy with the favordynmods option that makes joining a group cheap.
//
// v2 (unified hierarchy, the mount's cgroup.controllers lists memory): one directory per sandbox.
// v1: one directory per controller (memory, cpu, pids, and freezer when mounted). On hybrid hosts a
// cgroup2 mount without controllers (often /sys/fs/cgroup/unified) still offers `cgroup.kill`, so
// sandboxes also join a group there and are killed with one write.
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { readText, unavailable } from './files.js';
import type { CgroupLayout } from './types.js';

/** Super options of a v1 cgroup mount that are not controller names. */
const NON_CONTROLLER_OPTIONS = new Set(['rw', 'ro', 'xattr', 'noprefix', 'clone_children', 'cpuset_v2_mode', 'favordynmods']);

interface CgroupMount {
  mountPoint: string;
  fsType: 'cgroup' | 'cgroup2';
  /** v1 controllers of the hierarchy (from the super options). */
  controllers: string[];
  /** The mount's super options as the kernel lists them (rw, controllers, favordynmods, name=...). */
  superOptions: string[];
}

/** Decodes the octal escapes (\040 for space...) the kernel uses in mountinfo paths. */
function unescapeMountPath(value: string): string {
  return value.replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Extracts cgroup and cgroup2 mounts from /proc/self/mountinfo text. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const separator = line.indexOf(' - ');
    if (separator < 0) continue;
    const before = line.slice(0, separator).split(' ');
    const after = line.slice(separator + 3).split(' ');
    const mountPoint = before[4];
    const fsType = after[0];
    if (mountPoint === undefined || (fsType !== 'cgroup' && fsType !== 'cgroup2')) continue;
    const superOptions = (after[2] ?? '').split(',');
    mounts.push({
      mountPoint: unescapeMountPath(mountPoint),
      fsType,
      superOptions,
      controllers: fsType === 'cgroup' ? superOptions.filter((option) => !NON_CONTROLLER_OPTIONS.has(option) && !option.includes('=')) : [],
    });
  }
  return mounts;
}

/** Where Hangar mounts its own hierarchy (no controllers, no groups) with the favordynmods option. */
export const FAVOR_DYNMODS_MOUNT_POINT = '/run/hangar/cgroup-favordynmods';

export type FavorDynmodsOutcome = { state: 'already' | 'mounted' } | { state: 'unavailable'; reason: string };

/**
 * Makes moving a process into a cgroup cheap. Every write to cgroup.procs takes the kernel's
 * cgroup_threadgroup_rwsem for writing, which waits for an RCU grace period when no write happened
 * in the last few milliseconds: ~20 ms on an idle 2-core host, paid by every sandbox launch. A
 * hierarchy mounted with `favordynmods` (Linux 6.2+) keeps that lock in the mode where writers do
 * not wait, at the price of slightly slower forks and exits host-wide. The lock is global, so one
 * small named hierarchy with the option is enough; it is left mounted (the kernel keeps the mode
 * after an unmount anyway). Does nothing when a cgroup mount already has the option.
 */
export async function favorDynamicModifications(options: {
  /** Runs mount(8) with these arguments. */
  mount: (args: string[]) => Promise<unknown>;
  mountinfoPath?: string;
  mountPoint?: string;
}): Promise<FavorDynmodsOutcome> {
  const mountinfoPath = options.mountinfoPath ?? '/proc/self/mountinfo';
  const mountPoint = options.mountPoint ?? FAVOR_DYNMODS_MOUNT_POINT;
  const favoring = (): Promise<boolean> =>
    readFile(mountinfoPath, 'utf8').then((text) => parseCgroupMounts(text).some((mount) => mount.superOptions.includes('favordynmods')));
  try {
    if (await favoring()) return { state: 'already' };
    await mkdir(mountPoint, { recursive: true, mode: 0o755 });
    await options.mount(['-t', 'cgroup', '-o', 'none,name=hangar-favordynmods,favordynmods', 'cgroup', mountPoint]);
    // Another Hangar process may have mounted it at the same moment: what counts is the result.
    return (await favoring()) ? { state: 'mounted' } : { state: 'unavailable', reason: `the mount at ${mountPoint} does not list favordynmods` };
  } catch (error) {
    if (await favoring().catch(() => false)) return { state: 'already' };
    return { state: 'unavailable', reason: (error as Error).message };
  }
}

/**
 * Detects the cgroup layout: v2 when a cgroup2 mount's cgroup.controllers lists memory,
 * else v1 with per-controller hierarchies (memory, cpu and pids are required).
 */
export async function detectCgroupLayout(mountinfoPath = '/proc/self/mountinfo'): Promise<CgroupLayout> {
  const mounts = parseCgroupMounts(await readFile(mountinfoPath, 'utf8'));
  const v2Mounts = mounts.filter((mount) => mount.fsType === 'cgroup2');
  for (const mount of v2Mounts) {
    const controllers = (await readText(path.join(mount.mountPoint, 'cgroup.controllers'))) ?? '';
    if (controllers.split(/\s+/).includes('memory')) return { version: 'v2', unifiedRoot: mount.mountPoint, v1Roots: {} };
  }
  const v1Roots: CgroupLayout['v1Roots'] = {};
  for (const mount of mounts) {
    if (mount.fsType !== 'cgroup') continue;
    for (const controller of ['memory', 'cpu', 'pids', 'freezer'] as const) {
      if (mount.controllers.includes(controller) && v1Roots[controller] === undefined) v1Roots[controller] = mount.mountPoint;
    }
  }
  const missing = (['memory', 'cpu', 'pids'] as const).filter((controller) => v1Roots[controller] === undefined);
  if (missing.length > 0) {
    throw unavailable(
      v2Mounts.length === 0 && Object.keys(v1Roots).length === 0
        ? 'no cgroup filesystem is mounted: mount cgroup2 at /sys/fs/cgroup (or the v1 memory, cpu and pids controllers)'
        : `cgroup controllers not available: ${missing.join(', ')} (enable them: on cgroup v2 they must be listed in cgroup.controllers; on v1 mount each controller under /sys/fs/cgroup)`,
    );
  }
  const layout: CgroupLayout = { version: 'v1', v1Roots };
  const killMount = v2Mounts[0];
  if (killMount !== undefined) layout.killRoot = killMount.mountPoint;
  return layout;
}
