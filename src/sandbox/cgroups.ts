// Cgroup management for sandboxes: detects cgroup v1 or v2 at runtime, creates one group per
// sandbox under a parent (default `hangar`), applies memory/cpu/pids limits, reads OOM and memory
// statistics, kills every process in a group and removes it.
//
// v2 (unified hierarchy, the mount's cgroup.controllers lists memory): one directory per sandbox.
// v1: one directory per controller (memory, cpu, pids, and freezer when mounted). On hybrid hosts a
// cgroup2 mount without controllers (often /sys/fs/cgroup/unified) still offers `cgroup.kill`, so
// sandboxes also join a group there and are killed with one write.
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HangarError } from '../errors/errors.js';

export type CgroupVersion = 'v1' | 'v2';

/** Where the cgroup hierarchies Hangar uses are mounted. */
export interface CgroupLayout {
  version: CgroupVersion;
  /** v2: mount point of the unified hierarchy that holds the controllers. */
  unifiedRoot?: string;
  /** v1: mount point of each controller's hierarchy. */
  v1Roots: { memory?: string; cpu?: string; pids?: string; freezer?: string };
  /** v1 hybrid: a cgroup2 mount without controllers, used only for `cgroup.kill`. */
  killRoot?: string;
}

export interface CgroupLimits {
  memoryBytes: number;
  /** CPU share in cores; becomes a CFS quota per 100 ms period. */
  cpus: number;
  pids: number;
  /**
   * The group gets CPU time only when others leave some (the lowest cpu.shares / cpu.weight): for
   * sandboxes made ahead of need, whose setup must not slow running agents. Default false.
   */
  background?: boolean;
}

/** CPU weight of a group: the kernel's default, or its lowest for background groups. */
const CPU_SHARES = { normal: 1024, background: 2 } as const;
const CPU_WEIGHT = { normal: 100, background: 1 } as const;

export interface CgroupStats {
  oomKills: number;
  memoryPeakBytes?: number;
  processCount: number;
}

/** One sandbox's group (one directory per hierarchy). */
export interface SandboxCgroup {
  readonly name: string;
  /** Every directory created for this group. */
  readonly paths: readonly string[];
  /** `cgroup.procs` files a launcher writes its pid into, so it and every descendant join the group. */
  readonly procsFiles: readonly string[];
  stats(): Promise<CgroupStats>;
  /** Host pids of the processes in the group. */
  pids(): Promise<number[]>;
  /** Kills every process in the group and waits until it is empty; false when processes remain. */
  kill(): Promise<boolean>;
  /** Kills what is left and removes every directory of the group. Idempotent. */
  remove(): Promise<void>;
  /** Replaces the memory, cpu and pids limits (a pooled sandbox taken for other resources). */
  setLimits(limits: CgroupLimits): Promise<void>;
}

export interface CgroupManager {
  readonly parent: string;
  /** Detects the layout and creates the parent groups; fails with SANDBOX_UNAVAILABLE. */
  prepare(): Promise<CgroupLayout>;
  create(name: string, limits: CgroupLimits): Promise<SandboxCgroup>;
  /** Names of the groups that exist under the parent (in any hierarchy). */
  list(): Promise<string[]>;
  /** A handle on an existing group (to kill and remove what a crashed process left). */
  open(name: string): Promise<SandboxCgroup>;
}

export interface CgroupManagerOptions {
  /** Parent group path relative to each hierarchy root (default `hangar`). */
  parent?: string;
  /** Layout to use instead of detecting it (tests). */
  layout?: CgroupLayout;
  /** mountinfo text to detect from instead of /proc/self/mountinfo (tests). */
  mountinfoPath?: string;
}

const CPU_PERIOD_US = 100_000;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const V2_CONTROLLERS = ['memory', 'cpu', 'pids'] as const;
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

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file, fsConstants.F_OK);
    return true;
  } catch {
    return false;
  }
}

function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}

function unavailable(message: string, cause?: unknown): HangarError {
  return new HangarError('SANDBOX_UNAVAILABLE', message, cause === undefined ? undefined : { cause });
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

function parseKeyedCount(text: string | undefined, key: string): number {
  if (text === undefined) return 0;
  for (const line of text.split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (name === key && value !== undefined) return Number(value) || 0;
  }
  return 0;
}

function parsePids(text: string | undefined): number[] {
  if (text === undefined) return [];
  return text
    .split('\n')
    .map((line) => Number(line.trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

function sendKill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // The process is already gone.
  }
}

/** Validates a cgroup path relative to a hierarchy root (one or more plain segments). */
function validateRelative(value: string, what: string): void {
  const segments = value.split('/');
  if (segments.length === 0 || !segments.every((segment) => NAME_PATTERN.test(segment))) {
    throw new HangarError('VALIDATION_FAILED', `invalid cgroup ${what}: ${JSON.stringify(value)}`);
  }
}

/** Writes a controller file, naming it in the error. */
async function writeControl(file: string, value: string): Promise<void> {
  try {
    await writeFile(file, value);
  } catch (error) {
    throw new HangarError('SANDBOX_FAILED', `cannot write ${JSON.stringify(value)} to ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** Removes a cgroup directory, retrying while the kernel still counts exiting tasks. */
async function removeDir(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      await rmdir(dir);
      return;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return;
      if (!isErrno(error, 'EBUSY') || attempt >= 100) {
        throw new HangarError('SANDBOX_FAILED', `cannot remove cgroup ${dir}: ${(error as Error).message}`, { cause: error });
      }
      await sleep(attempt < 10 ? 1 : 10);
    }
  }
}

export function createCgroupManager(options: CgroupManagerOptions = {}): CgroupManager {
  const parent = options.parent ?? 'hangar';
  validateRelative(parent, 'parent');
  let layoutPromise: Promise<CgroupLayout> | undefined;
  let preparedLayout: CgroupLayout | undefined;

  const prepareV2 = async (root: string): Promise<void> => {
    const available = ((await readText(path.join(root, 'cgroup.controllers'))) ?? '').split(/\s+/);
    const missing = V2_CONTROLLERS.filter((controller) => !available.includes(controller));
    if (missing.length > 0) {
      throw unavailable(`cgroup v2 controllers not available at ${root}: ${missing.join(', ')} (enable them in the parent's cgroup.subtree_control)`);
    }
    // Each level from the root down to the parent must delegate the controllers to its children.
    let dir = root;
    const levels = parent.split('/');
    for (let index = 0; index <= levels.length; index += 1) {
      const enabled = ((await readText(path.join(dir, 'cgroup.subtree_control'))) ?? '').split(/\s+/);
      for (const controller of V2_CONTROLLERS) {
        if (enabled.includes(controller)) continue;
        try {
          await writeFile(path.join(dir, 'cgroup.subtree_control'), `+${controller}`);
        } catch (error) {
          throw unavailable(
            isErrno(error, 'EBUSY')
              ? `cannot enable the cgroup v2 ${controller} controller in ${dir}: the group holds processes (run Hangar in its own cgroup, e.g. with systemd-run --scope or Delegate=yes, so ${dir} has none)`
              : `cannot enable the cgroup v2 ${controller} controller in ${dir}: ${(error as Error).message} (Hangar needs a writable cgroup2 mount; in a container use --cgroupns=private with a writable /sys/fs/cgroup)`,
            error,
          );
        }
      }
      const next = levels[index];
      if (next === undefined) break;
      dir = path.join(dir, next);
      await mkdir(dir, { recursive: true }).catch((error: unknown) => {
        throw unavailable(`cannot create cgroup ${dir}: ${(error as Error).message} (Hangar must run as root with a writable /sys/fs/cgroup)`, error);
      });
    }
  };

  const prepareV1 = async (layout: CgroupLayout): Promise<void> => {
    const roots = Object.values(layout.v1Roots);
    for (const root of roots) {
      const dir = path.join(root, parent);
      await mkdir(dir, { recursive: true }).catch((error: unknown) => {
        throw unavailable(`cannot create cgroup ${dir}: ${(error as Error).message} (Hangar must run as root with a writable /sys/fs/cgroup)`, error);
      });
    }
    if (layout.killRoot !== undefined) {
      // The kill hierarchy is optional: without it, kill() falls back to the freezer or a SIGKILL loop.
      const dir = path.join(layout.killRoot, parent);
      try {
        await mkdir(dir, { recursive: true });
        const probe = path.join(dir, `.probe-${process.pid}`);
        await mkdir(probe, { recursive: true });
        const hasKill = await exists(path.join(probe, 'cgroup.kill'));
        await rmdir(probe);
        if (!hasKill) delete layout.killRoot;
      } catch {
        delete layout.killRoot;
      }
    }
  };

  const prepare = (): Promise<CgroupLayout> => {
    layoutPromise ??= (async () => {
      const layout = options.layout !== undefined ? structuredClone(options.layout) : await detectCgroupLayout(options.mountinfoPath);
      if (layout.version === 'v2') {
        if (layout.unifiedRoot === undefined) throw unavailable('cgroup v2 layout without a mount point');
        await prepareV2(layout.unifiedRoot);
      } else {
        await prepareV1(layout);
      }
      preparedLayout = layout;
      return layout;
    })();
    // A failed preparation is retried by the next call (the host may have been fixed meanwhile).
    layoutPromise.catch(() => {
      layoutPromise = undefined;
    });
    return layoutPromise;
  };

  const create = async (name: string, limits: CgroupLimits): Promise<SandboxCgroup> => {
    validateRelative(name, 'name');
    assertPositiveLimits(limits);
    const layout = preparedLayout ?? (await prepare());
    return layout.version === 'v2' ? createV2(layout, name, limits) : createV1(layout, name, limits);
  };

  const createV2 = async (layout: CgroupLayout, name: string, limits: CgroupLimits): Promise<SandboxCgroup> => {
    const dir = path.join(layout.unifiedRoot ?? '/sys/fs/cgroup', parent, name);
    await mkdirFresh(dir);
    const cgroup = v2Group(name, dir);
    try {
      if (await exists(path.join(dir, 'memory.swap.max'))) await writeControl(path.join(dir, 'memory.swap.max'), '0');
      await writeV2Limits(dir, limits);
    } catch (error) {
      await cgroup.remove().catch(() => undefined);
      throw error;
    }
    return cgroup;
  };

  /** The directories of a v1 group in each hierarchy. */
  const v1Dirs = (layout: CgroupLayout, name: string): V1Dirs => {
    const { memory, cpu, pids, freezer } = layout.v1Roots;
    if (memory === undefined || cpu === undefined || pids === undefined) throw unavailable('cgroup v1 memory, cpu and pids controllers are required');
    return {
      memory: path.join(memory, parent, name),
      cpu: path.join(cpu, parent, name),
      pids: path.join(pids, parent, name),
      freezer: freezer === undefined ? undefined : path.join(freezer, parent, name),
      kill: layout.killRoot === undefined ? undefined : path.join(layout.killRoot, parent, name),
    };
  };

  /** Every directory of a v1 group; hierarchies that share a mount (cpu,cpuacct) appear once. */
  const allV1Dirs = (dirs: V1Dirs): string[] =>
    [...new Set([dirs.memory, dirs.cpu, dirs.pids, dirs.freezer, dirs.kill].filter((dir): dir is string => dir !== undefined))];

  /** Parent directories in every hierarchy in use. */
  const parentDirs = (layout: CgroupLayout): string[] =>
    layout.version === 'v2'
      ? [path.join(layout.unifiedRoot ?? '/sys/fs/cgroup', parent)]
      : [...new Set([...Object.values(layout.v1Roots), layout.killRoot].filter((root): root is string => root !== undefined))].map((root) => path.join(root, parent));

  const list = async (): Promise<string[]> => {
    const layout = preparedLayout ?? (await prepare());
    const names = new Set<string>();
    for (const dir of parentDirs(layout)) {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) if (entry.isDirectory() && NAME_PATTERN.test(entry.name)) names.add(entry.name);
    }
    return [...names].sort();
  };

  const openGroup = async (name: string): Promise<SandboxCgroup> => {
    validateRelative(name, 'name');
    const layout = preparedLayout ?? (await prepare());
    if (layout.version === 'v2') return v2Group(name, path.join(layout.unifiedRoot ?? '/sys/fs/cgroup', parent, name));
    const dirs = v1Dirs(layout, name);
    return v1Group(name, dirs, allV1Dirs(dirs));
  };

  const createV1 = async (layout: CgroupLayout, name: string, limits: CgroupLimits): Promise<SandboxCgroup> => {
    const dirs = v1Dirs(layout, name);
    const allDirs = allV1Dirs(dirs);
    const created: string[] = [];
    const cgroup = v1Group(name, dirs, allDirs);
    try {
      for (const dir of allDirs) {
        await mkdirFresh(dir);
        created.push(dir);
      }
      if (!(await exists(path.join(dirs.memory, 'memory.memsw.limit_in_bytes')))) {
        await writeFile(path.join(dirs.memory, 'memory.swappiness'), '0').catch(() => undefined);
      }
      await writeControl(path.join(dirs.cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
      await writeV1Limits(dirs, limits);
    } catch (error) {
      for (const dir of created.reverse()) await removeDir(dir).catch(() => undefined);
      throw error;
    }
    return cgroup;
  };

  return { parent, prepare, create, list, open: openGroup };
}

function assertPositiveLimits(limits: CgroupLimits): void {
  if (!(limits.memoryBytes > 0) || !(limits.cpus > 0) || !(limits.pids > 0)) {
    throw new HangarError('VALIDATION_FAILED', 'cgroup limits must be positive');
  }
}

async function writeV2Limits(dir: string, limits: CgroupLimits): Promise<void> {
  await writeControl(path.join(dir, 'memory.max'), String(Math.floor(limits.memoryBytes)));
  await writeControl(path.join(dir, 'cpu.max'), `${cpuQuota(limits.cpus)} ${CPU_PERIOD_US}`);
  await writeControl(path.join(dir, 'cpu.weight'), String(limits.background === true ? CPU_WEIGHT.background : CPU_WEIGHT.normal));
  await writeControl(path.join(dir, 'pids.max'), String(Math.floor(limits.pids)));
}

/**
 * v1 limits. Where the kernel accounts swap, memory+swap equals memory (the sandbox cannot swap);
 * memory may never exceed memory+swap, so a raise writes memory+swap first and a cut writes it last.
 */
async function writeV1Limits(dirs: V1Dirs, limits: CgroupLimits): Promise<void> {
  const memory = String(Math.floor(limits.memoryBytes));
  const memoryFile = path.join(dirs.memory, 'memory.limit_in_bytes');
  const memswFile = path.join(dirs.memory, 'memory.memsw.limit_in_bytes');
  const memsw = await readText(memswFile);
  if (memsw === undefined) {
    await writeControl(memoryFile, memory);
  } else if (Number(memsw.trim()) < limits.memoryBytes) {
    await writeControl(memswFile, memory);
    await writeControl(memoryFile, memory);
  } else {
    await writeControl(memoryFile, memory);
    await writeControl(memswFile, memory);
  }
  await writeControl(path.join(dirs.cpu, 'cpu.cfs_quota_us'), String(cpuQuota(limits.cpus)));
  await writeControl(path.join(dirs.cpu, 'cpu.shares'), String(limits.background === true ? CPU_SHARES.background : CPU_SHARES.normal));
  await writeControl(path.join(dirs.pids, 'pids.max'), String(Math.floor(limits.pids)));
}

function cpuQuota(cpus: number): number {
  return Math.max(1000, Math.round(cpus * CPU_PERIOD_US));
}

/** Creates a group directory; a leftover empty group of the same name is replaced. */
async function mkdirFresh(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (error) {
    if (!isErrno(error, 'EEXIST')) {
      throw new HangarError('SANDBOX_FAILED', `cannot create cgroup ${dir}: ${(error as Error).message}`, { cause: error });
    }
    if (parsePids(await readText(path.join(dir, 'cgroup.procs'))).length > 0) {
      throw new HangarError('SANDBOX_FAILED', `cgroup ${dir} already exists and holds processes`);
    }
    await removeDir(dir);
    await mkdir(dir);
  }
}

/** Sends SIGKILL to every pid listed until the group is empty (bounded). */
async function killLoop(listPids: () => Promise<number[]>, rounds = 200): Promise<boolean> {
  for (let round = 0; round < rounds; round += 1) {
    const pids = await listPids();
    if (pids.length === 0) return true;
    for (const pid of pids) sendKill(pid);
    await sleep(round < 20 ? 1 : 10);
  }
  return (await listPids()).length === 0;
}

/** Waits until a group is empty without sending anything (bounded). */
async function waitEmpty(listPids: () => Promise<number[]>, rounds = 200): Promise<boolean> {
  for (let round = 0; round < rounds; round += 1) {
    if ((await listPids()).length === 0) return true;
    await sleep(round < 20 ? 1 : 10);
  }
  return false;
}

function v2Group(name: string, dir: string): SandboxCgroup {
  let removed = false;
  const pids = async (): Promise<number[]> => parsePids(await readText(path.join(dir, 'cgroup.procs')));
  const kill = async (): Promise<boolean> => {
    if ((await pids()).length === 0) return true;
    try {
      await writeFile(path.join(dir, 'cgroup.kill'), '1');
      if (await waitEmpty(pids, 100)) return true;
    } catch {
      // Kernels before 5.14 have no cgroup.kill: signal each process instead.
    }
    return killLoop(pids);
  };
  return {
    name,
    paths: [dir],
    procsFiles: [path.join(dir, 'cgroup.procs')],
    pids,
    kill,
    async stats() {
      const [events, peak, procs] = await Promise.all([readText(path.join(dir, 'memory.events')), readText(path.join(dir, 'memory.peak')), pids()]);
      const stats: CgroupStats = { oomKills: parseKeyedCount(events, 'oom_kill'), processCount: procs.length };
      if (peak !== undefined && peak.trim() !== '') stats.memoryPeakBytes = Number(peak.trim());
      return stats;
    },
    async remove() {
      if (removed) return;
      await kill();
      await removeDir(dir);
      removed = true;
    },
    async setLimits(limits) {
      assertPositiveLimits(limits);
      await writeV2Limits(dir, limits);
    },
  };
}

interface V1Dirs {
  memory: string;
  cpu: string;
  pids: string;
  freezer: string | undefined;
  kill: string | undefined;
}

function v1Group(name: string, dirs: V1Dirs, allDirs: string[]): SandboxCgroup {
  let removed = false;
  // A process may sit in some hierarchies only (a launcher killed between two writes): list all.
  const pids = async (): Promise<number[]> => {
    const lists = await Promise.all(allDirs.map((dir) => readText(path.join(dir, 'cgroup.procs'))));
    return [...new Set(lists.flatMap((list) => parsePids(list)))];
  };
  const killWithFreezer = async (freezerDir: string): Promise<boolean> => {
    const state = path.join(freezerDir, 'freezer.state');
    try {
      await writeFile(state, 'FROZEN');
      for (let round = 0; round < 100; round += 1) {
        if ((await readText(state))?.trim() === 'FROZEN') break;
        await sleep(1);
      }
      for (const pid of await pids()) sendKill(pid);
    } finally {
      await writeFile(state, 'THAWED').catch(() => undefined);
    }
    return killLoop(pids);
  };
  const kill = async (): Promise<boolean> => {
    if ((await pids()).length === 0) return true;
    if (dirs.kill !== undefined) {
      try {
        await writeFile(path.join(dirs.kill, 'cgroup.kill'), '1');
        if (await waitEmpty(pids, 100)) return true;
      } catch {
        // Fall through to the freezer or the SIGKILL loop.
      }
    }
    if (dirs.freezer !== undefined) {
      try {
        return await killWithFreezer(dirs.freezer);
      } catch {
        // No usable freezer group: signal each process instead.
      }
    }
    return killLoop(pids);
  };
  return {
    name,
    paths: allDirs,
    procsFiles: allDirs.map((dir) => path.join(dir, 'cgroup.procs')),
    pids,
    kill,
    async stats() {
      const [oomControl, peak, procs] = await Promise.all([
        readText(path.join(dirs.memory, 'memory.oom_control')),
        readText(path.join(dirs.memory, 'memory.max_usage_in_bytes')),
        readText(path.join(dirs.pids, 'cgroup.procs')),
      ]);
      const stats: CgroupStats = { oomKills: parseKeyedCount(oomControl, 'oom_kill'), processCount: parsePids(procs).length };
      if (peak !== undefined && peak.trim() !== '') stats.memoryPeakBytes = Number(peak.trim());
      return stats;
    },
    async remove() {
      if (removed) return;
      await kill();
      for (const dir of allDirs) await removeDir(dir);
      removed = true;
    },
    async setLimits(limits) {
      assertPositiveLimits(limits);
      await writeV1Limits(dirs, limits);
    },
  };
}
