// cgroup v1: one directory per controller hierarchy (memory, cpu, pids, freezer when mounted, and
// the controller-less cgroup2 mount for cgroup.kill on hybrid hosts). Writes the parent's
// host-wide ceilings and each sandbox's limits, including the TCP buffer limit, which v1 keeps in
// its own counter (memory.kmem.tcp.*) apart from memory.limit_in_bytes.
import { mkdir, readdir, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  assertPositiveLimits,
  cpuQuota,
  exists,
  killAll,
  killLoop,
  parseKeyedCount,
  parsePids,
  readNumber,
  readText,
  removeDir,
  unavailable,
  waitEmpty,
  writeControl,
} from './files.js';
import { PARENT_CPU_SHARES, splitParentMemory, tcpLimitBytes, tcpResidualRisk, type ResolvedHostLimits } from './host-limits.js';
import type { CgroupLayout, CgroupLimits, CgroupStats, SandboxCgroup, TcpBufferAccounting } from './types.js';

/** CPU weight of a group: the kernel's default, or its lowest for background groups. */
const CPU_SHARES = { normal: 1024, background: 2 } as const;
const TCP_LIMIT_FILE = 'memory.kmem.tcp.limit_in_bytes';

export interface V1Dirs {
  memory: string;
  cpu: string;
  pids: string;
  freezer: string | undefined;
  kill: string | undefined;
}

/** What a v1 group's limits depend on besides the asked values. */
export interface V1Context {
  /** The parent's CPU ceiling in cores: the kernel refuses a child quota above its parent's. */
  parentCpus: number | undefined;
  /** The kernel has memory.kmem.tcp.limit_in_bytes: each group gets one. */
  tcpLimit: boolean;
}

/** Creates the parent in every hierarchy; keeps the kill hierarchy only when it offers cgroup.kill. */
export async function prepareV1Parent(layout: CgroupLayout, parent: string): Promise<void> {
  for (const root of Object.values(layout.v1Roots)) {
    const dir = path.join(root, parent);
    await mkdir(dir, { recursive: true }).catch((error: unknown) => {
      throw unavailable(`cannot create cgroup ${dir}: ${(error as Error).message} (Hangar must run as root with a writable /sys/fs/cgroup)`, error);
    });
  }
  if (layout.killRoot === undefined) return;
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

/**
 * Writes the host-wide ceilings on the parent: pids.max; memory split between
 * memory.limit_in_bytes (and memsw) and memory.kmem.tcp.limit_in_bytes when the kernel has it; a
 * CFS quota, first lowering any child's quota above it (the kernel refuses a parent quota below a
 * child's); and half the default cpu.shares.
 */
export async function writeV1Ceilings(layout: CgroupLayout, parent: string, limits: ResolvedHostLimits): Promise<TcpBufferAccounting> {
  const { memory, cpu, pids } = layout.v1Roots;
  if (memory === undefined || cpu === undefined || pids === undefined) throw unavailable('cgroup v1 memory, cpu and pids controllers are required');
  const memoryDir = path.join(memory, parent);
  const cpuDir = path.join(cpu, parent);
  await ceiling(path.join(pids, parent, 'pids.max'), String(limits.pids));
  const tcpFile = path.join(memoryDir, TCP_LIMIT_FILE);
  let tcp: TcpBufferAccounting;
  if (await exists(tcpFile)) {
    const split = splitParentMemory(limits.memoryBytes);
    await writeV1Memory(memoryDir, split.memoryBytes, ceiling);
    await ceiling(tcpFile, String(split.tcpBytes));
    tcp = { state: 'limited', parentBytes: split.tcpBytes, detail: `memory.kmem.tcp.limit_in_bytes is set on ${memoryDir} and on each sandbox's group` };
  } else {
    await writeV1Memory(memoryDir, limits.memoryBytes, ceiling);
    tcp = { state: 'unavailable', detail: `this kernel has no ${TCP_LIMIT_FILE}: ${await tcpResidualRisk()}` };
  }
  const quota = cpuQuota(limits.cpus);
  for (const child of await childDirs(cpuDir)) {
    const childQuota = await readNumber(path.join(child, 'cpu.cfs_quota_us'));
    const childPeriod = (await readNumber(path.join(child, 'cpu.cfs_period_us'))) ?? 100_000;
    if (childQuota !== undefined && childQuota > 0 && childQuota / childPeriod > limits.cpus) {
      await ceiling(path.join(child, 'cpu.cfs_quota_us'), String(Math.floor(limits.cpus * childPeriod)));
    }
  }
  await ceiling(path.join(cpuDir, 'cpu.cfs_period_us'), '100000');
  await ceiling(path.join(cpuDir, 'cpu.cfs_quota_us'), String(quota));
  await ceiling(path.join(cpuDir, 'cpu.shares'), String(PARENT_CPU_SHARES));
  return tcp;
}

/** Writes a parent ceiling; a refusal makes the sandbox provider unavailable, naming the file. */
async function ceiling(file: string, value: string): Promise<void> {
  try {
    await writeFile(file, value);
  } catch (error) {
    throw unavailable(`cannot set the host-wide ceiling ${file} to ${value}: ${(error as Error).message}`, error);
  }
}

async function childDirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isDirectory()).map((entry) => path.join(dir, entry.name));
}

/**
 * Memory limit of a v1 group. Where the kernel accounts swap, memory+swap equals memory (no swap);
 * memory may never exceed memory+swap, so a raise writes memory+swap first and a cut writes it last.
 */
async function writeV1Memory(dir: string, bytes: number, write: (file: string, value: string) => Promise<void> = writeControl): Promise<void> {
  const memory = String(Math.floor(bytes));
  const memoryFile = path.join(dir, 'memory.limit_in_bytes');
  const memswFile = path.join(dir, 'memory.memsw.limit_in_bytes');
  const memsw = await readText(memswFile);
  if (memsw === undefined) {
    await write(memoryFile, memory);
  } else if (Number(memsw.trim()) < bytes) {
    await write(memswFile, memory);
    await write(memoryFile, memory);
  } else {
    await write(memoryFile, memory);
    await write(memswFile, memory);
  }
}

/** Limits of a sandbox's group: memory, TCP buffers, CPU quota (at most the parent's) and weight, pids. */
export async function writeV1Limits(dirs: V1Dirs, limits: CgroupLimits, context: V1Context): Promise<void> {
  await writeV1Memory(dirs.memory, limits.memoryBytes);
  if (context.tcpLimit) await writeControl(path.join(dirs.memory, TCP_LIMIT_FILE), String(tcpLimitBytes(limits.memoryBytes)));
  const cpus = context.parentCpus === undefined ? limits.cpus : Math.min(limits.cpus, context.parentCpus);
  await writeControl(path.join(dirs.cpu, 'cpu.cfs_quota_us'), String(cpuQuota(cpus)));
  await writeControl(path.join(dirs.cpu, 'cpu.shares'), String(limits.background === true ? CPU_SHARES.background : CPU_SHARES.normal));
  await writeControl(path.join(dirs.pids, 'pids.max'), String(Math.floor(limits.pids)));
}

/** Settings of a new group written once, before its limits: no swap where swap is not accounted, the CFS period. */
export async function writeV1Setup(dirs: V1Dirs): Promise<void> {
  if (!(await exists(path.join(dirs.memory, 'memory.memsw.limit_in_bytes')))) {
    await writeFile(path.join(dirs.memory, 'memory.swappiness'), '0').catch(() => undefined);
  }
  await writeControl(path.join(dirs.cpu, 'cpu.cfs_period_us'), '100000');
}

export function v1Group(name: string, dirs: V1Dirs, allDirs: string[], context: () => V1Context): SandboxCgroup {
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
      killAll(await pids());
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
      await writeV1Limits(dirs, limits, context());
    },
  };
}
