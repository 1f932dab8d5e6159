// Host-wide ceilings of the parent cgroup that holds every sandbox: the values asked for, or
// defaults derived from the host, and the TCP buffer share of a memory limit on cgroup v1.
//
// Defaults (each applies only to a value the settings leave out):
// - pids: 75% of the kernel's task limit (min of kernel.pid_max and kernel.threads-max), so the
//   host keeps a quarter of its pids whatever the sandboxes do.
// - memory: total RAM minus a reserve for Hangar and the host of max(1 GiB, 10% of RAM), never
//   below half of RAM.
// - cpus: every core. The cap alone would then change nothing; what protects Hangar and the host is
//   the parent's CPU weight, half the kernel's default (v1 cpu.shares 512, v2 cpu.weight 50): when
//   the CPUs are contended, the host's groups and processes at default weight get twice the share
//   of all sandboxes together, and an idle host leaves sandboxes every core.
import { availableParallelism } from 'node:os';
import { readText } from './files.js';
import type { HostFacts, HostLimitSettings } from './types.js';

const GIB = 1024 * 1024 * 1024;
const MIB = 1024 * 1024;
const PAGE = 4096;

/** The parent's CPU weight: half the kernel's default. */
export const PARENT_CPU_SHARES = 512;
export const PARENT_CPU_WEIGHT = 50;

/** Ceilings of the parent group, in kernel units. */
export interface ResolvedHostLimits {
  pids: number;
  memoryBytes: number;
  cpus: number;
  derived: Array<'pids' | 'memory' | 'cpus'>;
}

/** Reads the host facts the defaults come from. */
export async function readHostFacts(): Promise<HostFacts> {
  const [pidMaxText, threadsMaxText, meminfo] = await Promise.all([
    readText('/proc/sys/kernel/pid_max'),
    readText('/proc/sys/kernel/threads-max'),
    readText('/proc/meminfo'),
  ]);
  const pidMax = Number(pidMaxText?.trim()) || 32768;
  const threadsMax = Number(threadsMaxText?.trim()) || pidMax;
  const memTotalKb = Number(/^MemTotal:\s+(\d+)\s+kB/m.exec(meminfo ?? '')?.[1] ?? 0);
  return { pidMax: Math.min(pidMax, threadsMax), memTotalBytes: memTotalKb * 1024, cores: availableParallelism() };
}

/** Default pids ceiling: 75% of the kernel's task limit. */
export function defaultPids(facts: HostFacts): number {
  return Math.max(1, Math.floor(facts.pidMax * 0.75));
}

/** Default memory ceiling: RAM minus max(1 GiB, 10%), at least half of RAM, in whole MiB. */
export function defaultMemoryBytes(facts: HostFacts): number {
  const reserve = Math.max(GIB, facts.memTotalBytes * 0.1);
  const bytes = Math.max(facts.memTotalBytes - reserve, facts.memTotalBytes / 2);
  return Math.max(MIB, Math.floor(bytes / MIB) * MIB);
}

/** The ceilings to write: each asked value, or its default from the host facts. */
export function resolveHostLimits(settings: HostLimitSettings, facts: HostFacts): ResolvedHostLimits {
  const derived: ResolvedHostLimits['derived'] = [];
  const pick = <T>(value: T | undefined, name: 'pids' | 'memory' | 'cpus', fallback: () => T): T => {
    if (value !== undefined) return value;
    derived.push(name);
    return fallback();
  };
  const pids = pick(settings.pids, 'pids', () => defaultPids(facts));
  const memoryBytes = pick(settings.memoryMb === undefined ? undefined : settings.memoryMb * MIB, 'memory', () => defaultMemoryBytes(facts));
  const cpus = pick(settings.cpus, 'cpus', () => Math.max(1, facts.cores));
  if (!(pids >= 1) || !(memoryBytes >= MIB) || !(cpus > 0)) {
    throw new RangeError(`host limits must be positive: pids ${pids}, memory ${memoryBytes} bytes, cpus ${cpus}`);
  }
  return { pids: Math.floor(pids), memoryBytes: Math.floor(memoryBytes), cpus, derived };
}

/**
 * The TCP buffer limit of a sandbox's group on cgroup v1, where TCP buffers are counted apart from
 * memory.limit_in_bytes: an eighth of its memory limit, from 8 MiB to 256 MiB, in whole pages.
 * A socket that meets the limit sends and receives more slowly (writes wait, the peer retransmits);
 * it does not fail.
 */
export function tcpLimitBytes(memoryBytes: number): number {
  const bytes = Math.min(256 * MIB, Math.max(8 * MIB, memoryBytes / 8));
  return Math.floor(bytes / PAGE) * PAGE;
}

/**
 * The parent's split of the memory ceiling on cgroup v1: a sixteenth (16 MiB to 1 GiB) for TCP
 * buffers, the rest for memory.limit_in_bytes, so both together stay within the ceiling.
 */
export function splitParentMemory(memoryBytes: number): { memoryBytes: number; tcpBytes: number } {
  const tcp = Math.floor(Math.min(GIB, Math.max(16 * MIB, memoryBytes / 16)) / PAGE) * PAGE;
  const tcpBytes = Math.min(tcp, Math.floor(memoryBytes / 2 / PAGE) * PAGE);
  return { memoryBytes: Math.floor((memoryBytes - tcpBytes) / PAGE) * PAGE, tcpBytes };
}

/** What remains when no per-group TCP limit exists: the host-wide tcp_mem. */
export async function tcpResidualRisk(): Promise<string> {
  const tcpMem = (await readText('/proc/sys/net/ipv4/tcp_mem').catch(() => undefined))?.trim().split(/\s+/)[2];
  const bound = tcpMem === undefined ? 'net.ipv4.tcp_mem' : `net.ipv4.tcp_mem (${Math.round((Number(tcpMem) * 4096) / 1024 / 1024)} MiB)`;
  return `TCP socket buffers of sandboxes are bounded only host-wide by ${bound}, shared with Hangar and the host; lower it with sysctl, or run on cgroup v2`;
}
