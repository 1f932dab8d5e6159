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
   * Host directories made visible to this process only, at the same absolute path inside
   * (the Agent SDK materializes a resumed transcript in a host temp dir and expects the CLI to
   * use that exact path). The provider makes them writable by the sandbox user when asked.
   */
  sharedDirectories?: Array<{ hostPath: string; writable: boolean }>;
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
  stats(): Promise<SandboxStats>;
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
  /** Destroys every sandbox this provider still holds. */
  close(): Promise<void>;
}
