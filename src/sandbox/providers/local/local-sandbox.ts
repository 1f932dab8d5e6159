// One local sandbox: its launches (launch/), workspace files (workspace-files.ts, workspace-scan.ts),
// limits and processes (its cgroup), and destroy(), which runs the provider's teardown
// (lifecycle/teardown.ts) once.
import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { SpawnedProcess } from '@anthropic-ai/claude-agent-sdk';
import type { PidsBudget, SandboxCgroup } from '../../cgroups.js';
import type {
  SandboxBridge,
  SandboxExecResult,
  SandboxProcess,
  SandboxSpawnRequest,
  SandboxSpec,
  SandboxStats,
  WorkspaceFileRead,
  WorkspaceReadOptions,
  WorkspaceScan,
  WorkspaceScanOptions,
} from '../../sandbox-provider.js';
import { failed, invalid } from './errors.js';
import { collectExec } from './exec.js';
import type { LoopRef } from './filesystems/loop-devices.js';
import type { HostTools } from './host/host-tools.js';
import { sandboxBwrapArgs } from './isolation/bwrap-args.js';
import { waitForExit } from './launch/children.js';
import { LaunchChain } from './launch/launch-chain.js';
import { checkCopyIntoTmp, Launchers } from './launch/warm-launcher.js';
import { HOME_PATH, launchSpecDir, MIB, mountPointsOf, WORKSPACE_PATH } from './layout.js';
import { agentEntries, readProcessEntries } from './processes.js';
import type { WorkspaceBacking } from './settings.js';
import { checkLaunchRequest } from './spec-validation.js';
import type { LocalSandbox } from './types.js';
import { WorkspaceFiles } from './workspace-files.js';
import { readWorkspaceFileBytes, scanWorkspaceFiles } from './workspace-scan.js';

/** What a sandbox is made of once lifecycle/create.ts has set it up on the host. */
export interface LocalSandboxParts {
  id: string;
  hostDir: string;
  hostUid: number;
  backing: WorkspaceBacking;
  /** Loop devices holding the sandbox's images (ext4 backing). */
  loops: readonly LoopRef[];
  cgroup: SandboxCgroup;
  tools: HostTools;
  bridges: readonly SandboxBridge[];
  readOnlyPaths: readonly string[];
  /** Paths inside of the spec's readOnlyFiles, in order. */
  givenFiles: readonly string[];
  /** The share of the parent's pids ceiling this sandbox holds (see cgroups/pids-budget.ts). */
  pidsBudget: PidsBudget;
  /** Removes everything the sandbox has on the host (lifecycle/teardown.ts). */
  teardown(sandbox: LocalSandboxImpl): Promise<void>;
}

export class LocalSandboxImpl implements LocalSandbox {
  readonly workspacePath = WORKSPACE_PATH;
  readonly homePath = HOME_PATH;
  readonly id: string;
  readonly hostDir: string;
  readonly hostUid: number;
  readonly hostGid: number;
  readonly workspaceBacking: WorkspaceBacking;
  readonly loops: readonly LoopRef[];
  /** Settles once destroy's background work (unmounting and deleting the filesystems) is done. */
  released: Promise<void> = Promise.resolve();
  /** Where destroy moved the sandbox's directory for background release, if it did. */
  releasedDir: string | undefined;
  private readonly cgroup: SandboxCgroup;
  private readonly chain: LaunchChain;
  private readonly launchers: Launchers;
  private readonly files: WorkspaceFiles;
  private destroyed = false;
  private destroying: Promise<void> | undefined;

  constructor(private readonly parts: LocalSandboxParts) {
    const { id, hostDir, hostUid, tools, bridges } = parts;
    this.id = id;
    this.hostDir = hostDir;
    this.hostUid = hostUid;
    this.hostGid = hostUid;
    this.workspaceBacking = parts.backing;
    this.loops = parts.loops;
    this.cgroup = parts.cgroup;
    const bwrapArgs = sandboxBwrapArgs({ tools, hostDir, readOnlyPaths: parts.readOnlyPaths, givenFiles: parts.givenFiles, bridges });
    this.chain = new LaunchChain({ tools, uid: hostUid, procsFiles: parts.cgroup.procsFiles, bwrapArgs, bridges });
    this.launchers = new Launchers(this.chain, {
      id,
      tools,
      bridges,
      specDir: launchSpecDir(hostDir),
      assertLive: () => this.assertLive(),
      checkLaunch: (request) => this.checkLaunch(request),
    });
    this.files = new WorkspaceFiles({ dir: mountPointsOf(hostDir)[0], uid: hostUid, assertLive: () => this.assertLive() });
  }

  get cgroupPaths(): readonly string[] {
    return this.cgroup.paths;
  }

  hostPids(): Promise<number[]> {
    return this.cgroup.pids();
  }

  async agentProcesses(): Promise<SandboxProcess[]> {
    this.assertLive();
    const entries = agentEntries(await readProcessEntries(await this.cgroup.pids()), this.chain.launchedPids());
    return entries.map((entry) => ({ pid: entry.nsPid, name: entry.comm }));
  }

  spawn(request: SandboxSpawnRequest): ChildProcess & SpawnedProcess {
    const copyIn = request.copyIntoTmp === undefined ? undefined : checkCopyIntoTmp(request.copyIntoTmp);
    // env(1) would read such a command as a variable assignment.
    if (copyIn !== undefined && request.command.includes('='))
      throw invalid(`a command with a copied directory cannot contain '=': ${JSON.stringify(request.command)}`);
    const child = this.launchers.spawn(request, copyIn) ?? this.chain.launch(request, this.checkLaunch(request), 'pipe');
    if (child.stdin === null || child.stdout === null) throw failed('sandbox process has no stdio pipes');
    return child as ChildProcess & { stdin: Writable; stdout: Readable };
  }

  /** True while a launcher started by prelaunch() runs and waits for its command. */
  get warmLauncherReady(): boolean {
    return this.launchers.warmReady;
  }

  /** What the warm launcher wrote to stderr before a spawn took it (why it failed, when it did). */
  get warmLauncherStderr(): string {
    return this.launchers.warmStderr;
  }

  /**
   * Starts the launch chain of the sandbox's first spawn() ahead of need (see launch/warm-launcher.ts).
   * Needs bash and env(1); does nothing without them.
   */
  prelaunch(): void {
    this.assertLive();
    this.launchers.prelaunch();
  }

  /** Replaces the sandbox's memory, cpu and pids limits. */
  async setLimits(resources: SandboxSpec['resources']): Promise<void> {
    // The new pids limit is reserved first: a sandbox never holds more than its share of the parent.
    this.parts.pidsBudget.reserve(this.id, resources.pids);
    await this.cgroup.setLimits({ memoryBytes: Math.floor(resources.memoryMb * MIB), cpus: resources.cpus, pids: resources.pids });
  }

  exec(command: string, args: string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<SandboxExecResult> {
    const request: SandboxSpawnRequest = { command, args, env: options.env ?? {} };
    if (options.cwd !== undefined) request.cwd = options.cwd;
    let child: ChildProcess;
    try {
      child = this.chain.launch(request, this.checkLaunch(request), 'ignore', true);
    } catch (error) {
      return Promise.reject(error);
    }
    return collectExec(child, { command, sandboxId: this.id, timeoutMs: options.timeoutMs });
  }

  readFile(relativePath: string): Promise<Buffer> {
    return this.files.read(relativePath);
  }

  writeFile(relativePath: string, content: Buffer | string): Promise<void> {
    return this.files.write(relativePath, content);
  }

  async scanFiles(options: WorkspaceScanOptions): Promise<WorkspaceScan> {
    this.assertLive();
    return scanWorkspaceFiles(() => this.files.openDir([], false), options);
  }

  async readFileBytes(relativePath: Buffer, options: WorkspaceReadOptions): Promise<WorkspaceFileRead> {
    this.assertLive();
    return readWorkspaceFileBytes(() => this.files.openDir([], false), relativePath, options);
  }

  listFiles(): Promise<string[]> {
    return this.files.list();
  }

  stats(): Promise<SandboxStats> {
    return this.cgroup.stats();
  }

  destroy(): Promise<void> {
    this.destroyed = true;
    this.destroying ??= this.parts.teardown(this).catch((error: unknown) => {
      // A failed teardown may be retried by calling destroy() again.
      this.destroying = undefined;
      throw error;
    });
    return this.destroying;
  }

  async stopProcesses(): Promise<void> {
    this.assertLive();
    this.launchers.forgetWarm();
    const children = this.killChildren();
    if (!(await this.cgroup.kill())) throw failed(`sandbox ${this.id}: processes survived a kill of its cgroup`);
    await Promise.all(children.map((child) => waitForExit(child, 2000)));
  }

  /** Kills the processes this sandbox started (used by teardown). */
  killChildren(): ChildProcess[] {
    return this.chain.killAll();
  }

  removeCgroup(): Promise<void> {
    return this.cgroup.remove();
  }

  private assertLive(): void {
    if (this.destroyed) throw failed(`sandbox ${this.id} is destroyed`);
  }

  /** Checks a launch request; returns its complete environment and working directory. */
  private checkLaunch(request: SandboxSpawnRequest): { env: Record<string, string>; cwd: string } {
    this.assertLive();
    return checkLaunchRequest(request);
  }
}
