// The local provider's public types beyond its settings (settings.ts).
import type { ChildProcess } from 'node:child_process';
import type { SpawnedProcess } from '@anthropic-ai/claude-agent-sdk';
import type { Sandbox, SandboxProvider, SandboxSpawnRequest, SandboxSpec } from '../../sandbox-provider.js';
import type { WorkspaceBacking } from './settings.js';

/** A local sandbox, with the host-side facts tests and operators need. */
export interface LocalSandbox extends Sandbox {
  /** Host directory of the sandbox (holds the workspace and scratch mounts, and their images). */
  readonly hostDir: string;
  /** What holds the workspace and scratch area. */
  readonly workspaceBacking: WorkspaceBacking;
  /** Host uid and gid the sandbox's processes run as. */
  readonly hostUid: number;
  readonly hostGid: number;
  /**
   * Settles once everything destroy() started is finished. destroy() itself returns when no process
   * of the sandbox runs and its cgroups are gone; ext4 filesystems are then released in the
   * background (provider.close() waits for that too).
   */
  readonly released: Promise<void>;
  /** Where destroy moved the sandbox's directory to release it in the background, if it did. */
  readonly releasedDir: string | undefined;
  /** Cgroup directories of the sandbox. */
  readonly cgroupPaths: readonly string[];
  /** Host pids of every process in the sandbox right now. */
  hostPids(): Promise<number[]>;
  /** True while a launcher started ahead of need (warm pool) waits for this sandbox's first spawn. */
  readonly warmLauncherReady: boolean;
  /** The process is a node ChildProcess (its pid is the host pid of the outer bubblewrap). */
  spawn(request: SandboxSpawnRequest): ChildProcess & SpawnedProcess;
}

export interface LocalSandboxProvider extends SandboxProvider {
  create(spec: SandboxSpec): Promise<LocalSandbox>;
  /** Warm sandboxes ready to be taken, over all shapes. */
  readonly warmSandboxes: number;
  /**
   * Resolves once the background work under way has finished: warm sandboxes and image pairs made
   * ahead of need, filesystems released after destroys (benchmarks and tests wait for a quiet host).
   */
  settled(): Promise<void>;
}
