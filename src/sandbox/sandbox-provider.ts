// The SandboxProvider port: everything Hangar needs from an isolated place to run an agent.
// Adapters (providers/local, later docker and hosted providers) implement it; core code only sees
// these types. A sandbox is a workspace plus resource limits plus a process launcher.
import type { SpawnedProcess } from '@anthropic-ai/claude-agent-sdk';

/** Resource limits applied to a sandbox as a whole (every process it runs counts). */
export interface SandboxResources {
  /** Memory limit in MiB; exceeding it OOM-kills the offending process. */
  memoryMb: number;
  /** CPU share in cores (0.5 = half a core); enforced by CFS quota. */
  cpus: number;
  /** Workspace size limit in MiB; writes beyond it fail with ENOSPC. */
  diskMb: number;
  /** Maximum number of processes and threads alive at once. */
  pids: number;
}

/**
 * A host unix socket reachable from inside the sandbox as a TCP port on its loopback.
 * The sandbox has no network interface but loopback; bridges are its only way out.
 */
export interface SandboxBridge {
  /** Short name, used for the socket's path inside the sandbox. */
  name: string;
  /** Path of the unix socket on the host. */
  hostSocketPath: string;
  /** Loopback port inside the sandbox that forwards to the socket. */
  port: number;
}

export interface SandboxSpec {
  /** Caller-chosen id (unique among live sandboxes); generated when absent. */
  id?: string;
  resources: SandboxResources;
  bridges: SandboxBridge[];
  /**
   * Host files or directories made visible read-only at the same path inside the sandbox
   * (for example the Claude Code binary's directory).
   */
  readOnlyPaths?: string[];
  /**
   * Files Hangar gives the sandbox, read-only, at absolute paths under /run/hangar/files/ (for
   * example the CA certificates of the egress proxy). They are copied into the sandbox's own
   * filesystem, so no host path shows inside. At most 4 MiB together.
   */
  readOnlyFiles?: Array<{ path: string; content: string }>;
}

export interface SandboxExecResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface SandboxSpawnRequest {
  command: string;
  args: string[];
  /** The complete environment of the process: nothing from the host is added. */
  env: Record<string, string>;
  /** Working directory inside the sandbox; defaults to the workspace. */
  cwd?: string;
  /** Receives the process's stderr (the SDK's SpawnedProcess exposes no stderr stream). */
  onStderr?: (chunk: string) => void;
  /**
   * A host directory copied into the sandbox's /tmp at the same path before the command starts
   * (the Agent SDK materializes a resumed transcript in a host temp dir and points the CLI at that
   * exact path). The host directory is never made visible to the sandbox, and nothing is copied back.
   */
  copyIntoTmp?: string;
  /**
   * A helper process (tar for checkpoints...), not the sandbox's agent: an adapter that prepared a
   * faster start for the sandbox's main process keeps it for that process.
   */
  auxiliary?: boolean;
}

export interface SandboxStats {
  /** Processes the kernel OOM-killed in this sandbox since it was created. */
  oomKills: number;
  /** Highest memory use seen, in bytes, when the platform reports it. */
  memoryPeakBytes?: number;
  /** Processes alive in the sandbox right now. */
  processCount: number;
}

/** Identity of a regular workspace file, from lstat/fstat: enough to tell it changed without reading it. */
export interface WorkspaceFileStat {
  size: number;
  /** Bytes the file really occupies on disk (st_blocks * 512): far below size for a sparse file. */
  allocatedBytes: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino: bigint;
}

export interface WorkspaceFileEntry extends WorkspaceFileStat {
  /** Path relative to the workspace as raw bytes ('/'-separated): names need not be UTF-8. */
  path: Buffer;
}

export interface WorkspaceScanOptions {
  /** Most directory entries examined, of any kind (files, directories, links, FIFOs...). */
  maxEntries: number;
  /** Deepest directory level descended into (the workspace itself is level 0). Default 64. */
  maxDepth?: number;
  /** Stops the scan; what was found so far is returned with `aborted: true`. */
  signal?: AbortSignal;
}

export interface WorkspaceScan {
  /** Regular files found, in no particular order. Symlinks, FIFOs, devices and sockets are skipped. */
  entries: WorkspaceFileEntry[];
  /** The scan stopped at maxEntries or maxDepth: files beyond were not seen. */
  truncated: boolean;
  /** The signal stopped the scan: files beyond were not seen. */
  aborted: boolean;
}

export interface WorkspaceReadOptions {
  /** Most bytes read; a larger file is not read at all (`tooLarge: true`). */
  maxBytes: number;
  /** Keep the bytes read (`content`); otherwise only their hash is computed. */
  keepContent?: boolean;
  /** Stops the read with an error. */
  signal?: AbortSignal;
}

export interface WorkspaceFileRead {
  /** Identity of the file actually read (fstat of its descriptor). */
  stat: WorkspaceFileStat;
  /** The file holds more than maxBytes: nothing was read, no hash. */
  tooLarge: boolean;
  /** sha256 (hex) of the whole file, when read. */
  sha256?: string;
  content?: Buffer;
}

/** A process running in a sandbox. */
export interface SandboxProcess {
  /** Its pid inside the sandbox. */
  pid: number;
  /** The executable's name (comm: at most 15 bytes). */
  name: string;
}

export interface Sandbox {
  readonly id: string;
  /** Absolute path of the workspace as processes inside the sandbox see it. */
  readonly workspacePath: string;
  /** Absolute path of HOME inside the sandbox. */
  readonly homePath: string;
  /** Starts a long-lived process (the Claude Code CLI) with piped stdin/stdout. */
  spawn(request: SandboxSpawnRequest): SpawnedProcess;
  /** Runs a command to completion and collects its output. */
  exec(command: string, args: string[], options?: { env?: Record<string, string>; cwd?: string; timeoutMs?: number }): Promise<SandboxExecResult>;
  /** Reads a file under the workspace (path relative to it). */
  readFile(relativePath: string): Promise<Buffer>;
  /** Writes a file under the workspace (path relative to it), creating parent directories. */
  writeFile(relativePath: string, content: Buffer | string): Promise<void>;
  /** Lists every regular file under the workspace, relative paths, sorted. */
  listFiles(): Promise<string[]>;
  /**
   * Lists regular files under the workspace with their stat identity, never following a symlink nor
   * opening anything but directories; bounded by maxEntries and stoppable by a signal.
   */
  scanFiles(options: WorkspaceScanOptions): Promise<WorkspaceScan>;
  /**
   * Reads and hashes a regular workspace file named by raw bytes (as scanFiles reports it), at most
   * maxBytes, in chunks. Refuses symlinks and non-regular files (VALIDATION_FAILED); NOT_FOUND when absent.
   */
  readFileBytes(relativePath: Buffer, options: WorkspaceReadOptions): Promise<WorkspaceFileRead>;
  stats(): Promise<SandboxStats>;
  /**
   * Kills every process of the sandbox, whatever state it is in (stopped, traced, detached), and
   * resolves once none is left; the workspace stays readable until destroy(). Optional: an adapter
   * whose destroy() is the only way to stop processes leaves it out.
   */
  stopProcesses?(): Promise<void>;
  /**
   * The processes running in the sandbox other than Hangar's own (launchers, bridges and the commands
   * it started, such as the CLI): what the agent left running. Optional.
   */
  agentProcesses?(): Promise<SandboxProcess[]>;
  /**
   * Kills every process and removes the sandbox's cgroups before it resolves; its mounts and
   * directories are removed too, possibly in the background (provider.close() waits for those).
   * Idempotent.
   */
  destroy(): Promise<void>;
}

export interface SandboxProvider {
  readonly name: string;
  /** Fails with SANDBOX_UNAVAILABLE (saying what to install) when the host cannot isolate. */
  create(spec: SandboxSpec): Promise<Sandbox>;
  /**
   * Prepares sandboxes of this spec's shape ahead of need, in the background, when the adapter keeps
   * a pool of them (a later create() of that shape is then faster). Never fails: problems are logged.
   */
  prewarm?(spec: SandboxSpec): void;
  /**
   * Resolves when this host can run sandboxes; fails with SANDBOX_UNAVAILABLE saying why (and what
   * to install or change) when it cannot. Readiness checks call it; optional for adapters that need no check.
   */
  checkHost?(): Promise<void>;
  /** Destroys every sandbox this provider still holds. */
  close(): Promise<void>;
}
