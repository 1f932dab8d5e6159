// cgroup v2: one directory per sandbox under the parent in the unified hierarchy. Enables the
// memory, cpu and pids controllers down to the parent, writes the parent's host-wide ceilings and
// each sandbox's limits. Socket buffers are part of memory.current on v2 (unless the kernel was
// booted with cgroup.memory=nosocket), so memory.max bounds them with no separate limit.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  assertPositiveLimits,
  CPU_PERIOD_US,
  cpuQuota,
  exists,
  isErrno,
  killLoop,
  parseKeyedCount,
  parsePids,
  readText,
  removeDir,
  unavailable,
  waitEmpty,
  writeControl,
} from './files.js';
import { PARENT_CPU_WEIGHT, tcpResidualRisk, type ResolvedHostLimits } from './host-limits.js';
import type { CgroupLimits, CgroupStats, SandboxCgroup, TcpBufferAccounting } from './types.js';

const V2_CONTROLLERS = ['memory', 'cpu', 'pids'] as const;
/** CPU weight of a group: the kernel's default, or its lowest for background groups. */
const CPU_WEIGHT = { normal: 100, background: 1 } as const;

/** Enables the controllers at each level from the root down to the parent, creating the parent. */
export async function prepareV2Parent(root: string, parent: string): Promise<void> {
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
}

/**
 * Writes the host-wide ceilings on the parent (its controllers were enabled by its own parent's
 * subtree_control): pids.max, memory.max, cpu.max and half the default cpu.weight. On v2 a child's
 * cpu.max may exceed its parent's; the kernel applies the smaller.
 */
export async function writeV2Ceilings(parentDir: string, limits: ResolvedHostLimits, cmdline?: string): Promise<TcpBufferAccounting> {
  const write = async (file: string, value: string): Promise<void> => {
    try {
      await writeFile(path.join(parentDir, file), value);
    } catch (error) {
      throw unavailable(`cannot set the host-wide ceiling ${path.join(parentDir, file)} to ${value}: ${(error as Error).message}`, error);
    }
  };
  await write('pids.max', String(limits.pids));
  await write('memory.max', String(limits.memoryBytes));
  await write('cpu.max', `${cpuQuota(limits.cpus)} ${CPU_PERIOD_US}`);
  await write('cpu.weight', String(PARENT_CPU_WEIGHT));
  const bootOptions = cmdline ?? (await readText('/proc/cmdline').catch(() => undefined)) ?? '';
  const memoryOption = /(?:^|\s)cgroup\.memory=(\S+)/.exec(bootOptions)?.[1] ?? '';
  if (memoryOption.split(',').includes('nosocket')) {
    return { state: 'unavailable', detail: `the kernel was booted with cgroup.memory=nosocket: ${await tcpResidualRisk()}` };
  }
  return { state: 'counted', detail: 'cgroup v2 counts socket buffers in each group\'s memory.current (memory.stat "sock"), so memory.max bounds them' };
}

export async function writeV2Limits(dir: string, limits: CgroupLimits): Promise<void> {
  await writeControl(path.join(dir, 'memory.max'), String(Math.floor(limits.memoryBytes)));
  await writeControl(path.join(dir, 'cpu.max'), `${cpuQuota(limits.cpus)} ${CPU_PERIOD_US}`);
  await writeControl(path.join(dir, 'cpu.weight'), String(limits.background === true ? CPU_WEIGHT.background : CPU_WEIGHT.normal));
  await writeControl(path.join(dir, 'pids.max'), String(Math.floor(limits.pids)));
}

/** Settings of a new group written once, before its limits: no swap. */
export async function writeV2Setup(dir: string): Promise<void> {
  if (await exists(path.join(dir, 'memory.swap.max'))) await writeControl(path.join(dir, 'memory.swap.max'), '0');
}

export function v2Group(name: string, dir: string): SandboxCgroup {
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
