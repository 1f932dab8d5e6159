// Types of the cgroup manager: where the hierarchies are mounted, the limits of one sandbox's
// group, the host-wide ceilings of the parent group, and the manager's interface.

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
  /**
   * Memory limit. On v2 it covers TCP socket buffers too. On v1 the kernel counts TCP buffers in a
   * separate counter: the group also gets `memory.kmem.tcp.limit_in_bytes` = tcpLimitBytes(memory).
   */
  memoryBytes: number;
  /** CPU share in cores; becomes a CFS quota per 100 ms period (on v1 at most the parent's). */
  cpus: number;
  pids: number;
  /**
   * The group gets CPU time only when others leave some (the lowest cpu.shares / cpu.weight): for
   * sandboxes made ahead of need, whose setup must not slow running agents. Default false.
   */
  background?: boolean;
}

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
  /** Replaces the memory (and v1 TCP buffer), cpu and pids limits (a pooled sandbox taken for other resources). */
  setLimits(limits: CgroupLimits): Promise<void>;
}

/** Host-wide ceilings asked for the parent group; each one left out is derived from the host. */
export interface HostLimitSettings {
  /** Most processes and threads of all sandboxes together. */
  pids?: number;
  /** Most memory of all sandboxes together, in MiB (on v1 TCP buffers included). */
  memoryMb?: number;
  /** Most CPU time of all sandboxes together, in cores. */
  cpus?: number;
}

/** How TCP socket buffers of sandboxes are bounded on this host. */
export type TcpBufferAccounting =
  /** v1: `memory.kmem.tcp.limit_in_bytes` is set on the parent and on each sandbox's group. */
  | { state: 'limited'; parentBytes: number; detail: string }
  /** v2: socket memory is part of memory.current, so memory.max bounds it. */
  | { state: 'counted'; detail: string }
  /** Nothing per sandbox bounds it; the detail names the host-wide bound that remains. */
  | { state: 'unavailable'; detail: string };

/** The ceilings in force on the parent group, as written. */
export interface HostCeilings {
  parent: string;
  version: CgroupVersion;
  pids: number;
  /** All sandboxes' memory together (on v1: memory limit + TCP buffer limit of the parent). */
  memoryBytes: number;
  cpus: number;
  /** The parent's CPU weight against the host's other groups (v1 cpu.shares, v2 cpu.weight). */
  cpuWeight: number;
  /** Which values came from the host rather than from settings. */
  derived: Array<'pids' | 'memory' | 'cpus'>;
  tcp: TcpBufferAccounting;
}

export interface CgroupManager {
  readonly parent: string;
  /**
   * Detects the layout, creates the parent groups and writes the host-wide ceilings on them;
   * fails with SANDBOX_UNAVAILABLE.
   */
  prepare(): Promise<CgroupLayout>;
  /** The ceilings written by prepare(); undefined before it succeeds. */
  ceilings(): HostCeilings | undefined;
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
  /** Host-wide ceilings on the parent group; what is not given is derived from the host. */
  hostLimits?: HostLimitSettings;
  /** Told the ceilings written on the parent when the manager prepares it (to log them). */
  onCeilings?: (ceilings: HostCeilings) => void;
  /** Host facts to derive default ceilings from instead of /proc (tests). */
  hostFacts?: HostFacts;
}

/** What default ceilings are derived from. */
export interface HostFacts {
  /** /proc/sys/kernel/pid_max, or threads-max when lower. */
  pidMax: number;
  /** MemTotal from /proc/meminfo, in bytes. */
  memTotalBytes: number;
  cores: number;
}
