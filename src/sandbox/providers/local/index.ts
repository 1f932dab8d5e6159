// The local sandbox provider: isolates each sandbox on this host with bubblewrap (namespaces),
// cgroups (memory, cpu, pids) and a size-capped filesystem (disk), and runs its processes as a host
// uid of their own.
//
// Layout of one sandbox on the host, under <rootDir>/<id> (owned by the sandbox uid, mode 0700):
//   workspace/   a filesystem of diskMb               -> /workspace
//   scratch/     a second one (scratchMb): home/ -> /home/agent, tmp/ -> /tmp, shm/ -> /dev/shm
//   workspace.img, scratch.img                        (ext4 backing only: the two image files)
//   scratch/hangar/   (root-owned, unreachable inside but through these binds):
//     passwd, group, hosts, hostname, resolv.conf, nsswitch.conf -> /etc/<name> (see isolation/etc-files.ts)
//     cmdline                                         -> /proc/cmdline (the host's is not shown)
//     launch/spec-<n>   command of a launcher           -> /run/hangar/launch, read-only (see startLauncher())
// /etc inside is otherwise empty but for the host entries programs need (isolation/etc-files.ts), read-only.
// Filling the workspace thus never takes the space the CLI needs for its own state in HOME and /tmp.
// The two filesystems are, per the workspaceBacking setting:
//   ext4   sparse image files (root-only, mode 0600) formatted ext4 and loop-mounted. Their pages go
//          through the page cache: charged to the sandbox's memory cgroup but reclaimable, so a
//          workspace can hold more than the memory limit. Images take host disk as they fill.
//   tmpfs  size-capped tmpfs mounts. Their pages count toward the memory limit and, without swap,
//          cannot be reclaimed: a workspace never holds more than the memory limit allows.
// With the ext4 backing, a few image pairs are formatted and mounted ahead of need in
// <rootDir>/.pool-<pid>-<n> (root-owned); create() renames one onto the sandbox's directory (the
// mounts move with it) and hands the two filesystem roots to the sandbox uid.
// Each spawn/exec is one bubblewrap invocation, launched as:
//   /bin/sh -c 'echo $$ > <cgroup.procs>...; exec "$@"'   (root: joins the cgroups, then execs)
//     setpriv --reuid=U --regid=G ... --no-new-privs      (drops to the sandbox's host uid)
//       bwrap --args 3 ... -- command                     (fd 3 carries --clearenv/--setenv pairs)
// so every process of the sandbox is in its cgroups, runs as an unprivileged host uid, and the
// environment never appears in a host process's argv or in a root process's environment.
// Warm pool (warmPoolSize > 0): sandboxes of the most recently used shapes (disk sizes, bridges,
// read-only paths) are created ahead of need with their first launch chain already started
// (prelaunch()); create() without an id takes one, sets the asked memory/cpu/pids limits, and the
// first spawn() starts its command with no chain to wait for.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, lstatSync, openSync, readFileSync, writeSync, type Stats } from 'node:fs';
import { chmod, chown, link, lstat, mkdir, open, readdir, readFile, readlink, realpath, rename, rmdir, stat, statfs, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import { HangarError } from '../../../errors/errors.js';
import { newSandboxId } from '../../../ids.js';
import { AheadOfNeedPool } from '../../ahead-of-need-pool.js';
import { DIR_FLAGS, errnoOf, pathAt } from '../../by-descriptor.js';
import { createCgroupManager, createPidsBudget, favorDynamicModifications, isPidsExhausted, type PidsBudget, type HostCeilings, type HostLimitSettings, type SandboxCgroup } from '../../cgroups.js';
import { createHostShell, type HostShell } from '../../host-shell.js';
import { removeTreeByDescriptor } from '../../safe-remove.js';
import { buildSeccompFilter, hostSeccompArch, type SeccompArch } from '../../seccomp/index.js';
import { GENERATED_ETC_FILES, generatedEtcContents, readHostEtcEntries, readMaskableProcFiles } from './isolation/etc-files.js';
import { failed, invalid, stderrOf, unavailable } from './errors.js';
import { ext4Fstab, formatAndMountScript, imageBytes } from './filesystems/ext4.js';
import { tmpfsFstab } from './filesystems/tmpfs.js';
import { findExecutable, isExecutable, type HostTools } from './host/host-tools.js';
import { dropToSandboxArgv, probeBwrapArgs, sandboxBwrapArgs } from './isolation/bwrap-args.js';
import { bridgePrelude } from './isolation/bridge-prelude.js';
import { cgroupJoinScript, environmentArgs, launchCommand, launcherScript, launcherSpec, NO_STARTUP_FILES } from './isolation/launcher-script.js';
import { HANGAR_SCRATCH_DIR, HOME_PATH, INSIDE_ID, isUnder, LAUNCH_DIR, launchSpecDir, MIB, mountPointsOf, POOL_PREFIX, SANDBOX_HOSTNAME, WORKSPACE_PATH } from './layout.js';
import { bindIdentities, poolSpec, shapeOf } from './pools/warm-sandboxes.js';
import { checkLaunchRequest, checkSpecHostPaths, ID_PATTERN, validateSpec } from './spec-validation.js';
import type {
  Sandbox,
  SandboxBridge,
  SandboxExecResult,
  SandboxProcess,
  SandboxProvider,
  SandboxSpawnRequest,
  SandboxSpec,
  SandboxStats,
} from '../../sandbox-provider.js';
import type { WorkspaceFileRead, WorkspaceReadOptions, WorkspaceScan, WorkspaceScanOptions } from '../../sandbox-provider.js';
import { readWorkspaceFileBytes, scanWorkspaceFiles } from './workspace-scan.js';
import { agentEntries, readProcessEntries } from './processes.js';
import type { SpawnedProcess } from '@anthropic-ai/claude-agent-sdk';

const execFileAsync = promisify(execFile);

/** Logger subset the provider uses (a pino logger fits). */
export interface LocalSandboxLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** What holds a sandbox's workspace and scratch area: loop-mounted ext4 images or tmpfs. */
export type WorkspaceBacking = 'tmpfs' | 'ext4';

export interface LocalSandboxSettings {
  /** Host directory holding one directory per sandbox (e.g. <dataDir>/sandboxes); created when missing. */
  rootDir: string;
  /** First host uid (and gid) handed to sandboxes; each live sandbox has its own. Default 200000. */
  uidRangeStart?: number;
  /** Number of host uids in the range: the most sandboxes alive at once on this host. Default 10000. */
  uidRangeSize?: number;
  /** Directory of uid reservation files shared by every Hangar process on the host. Default /run/hangar/uids. */
  uidLockDir?: string;
  /** bubblewrap executable; default: `bwrap` found on PATH. */
  bwrapPath?: string;
  /** socat executable (bridges); default: `socat` found on PATH. */
  socatPath?: string;
  /** setpriv executable (util-linux); default: `setpriv` found on PATH. */
  setprivPath?: string;
  /**
   * What holds the workspace (diskMb) and the scratch area (scratchMb). Default `ext4`.
   * - `ext4`: each is a sparse image file in the sandbox's directory, formatted ext4 (no journal) and
   *   loop-mounted nosuid,nodev. Written pages are reclaimable page cache, so the memory limit does not
   *   cap the disk; full images fail writes with ENOSPC. Needs e2fsprogs and loop devices.
   * - `tmpfs`: each is a size-capped tmpfs. Faster to create, but every byte stored counts toward the
   *   memory limit: with no swap a large write OOM-kills instead of failing with ENOSPC.
   */
  workspaceBacking?: WorkspaceBacking;
  /**
   * ext4 backing: formatted and mounted image pairs kept ready per size (diskMb and scratchMb), for
   * the two most recently used sizes, so that create() only moves a pair into the sandbox's directory.
   * Refilled in the background after each create; removed by close(). 0 formats on demand. Default 2.
   */
  ext4PoolSize?: number;
  /**
   * Size in MiB of the second filesystem holding HOME, /tmp and /dev/shm (the CLI's own state lives
   * there). Default: the sandbox's diskMb.
   */
  scratchMb?: number;
  /** Parent cgroup of every sandbox's group, relative to each hierarchy root. Default `hangar`. */
  cgroupParent?: string;
  /** Host-wide ceilings (pids, memory, cpus) on the parent cgroup; what is not given is derived from the host. */
  hostLimits?: HostLimitSettings;
  /**
   * Sandboxes kept ready per shape (diskMb, scratchMb, bridges, read-only paths), for the two most
   * recently used shapes: created ahead of need with the first launch chain started (prelaunch()).
   * create() without an id takes one and applies its memory/cpu/pids; refilled in the background;
   * destroyed by close(). Needs bash and env(1). 0 creates every sandbox on demand. Default 0.
   */
  warmPoolSize?: number;
  /**
   * Mounts a small cgroup hierarchy with the kernel's `favordynmods` option (see cgroups.ts) so a
   * process joining a sandbox's cgroups does not wait for an RCU grace period (~20 ms measured on
   * an idle host, on every launch). Host-wide: forks and exits take a slightly slower path, until
   * reboot. When the kernel refuses (before Linux 6.2, or v1 hierarchies disabled), a warning is
   * logged and sandboxes work as before. Default true.
   */
  favorDynamicCgroups?: boolean;
  /**
   * Host system paths visible read-only at the same place inside. Directories are bound; symlinks
   * (/bin -> usr/bin on usr-merged systems) are recreated; missing paths are skipped.
   * Default: /usr, /bin, /lib, /lib64, /sbin (/etc is built per sandbox: see isolation/etc-files.ts; adding /etc
   * here shows the host's whole /etc instead).
   */
  readOnlySystemPaths?: string[];
  logger?: LocalSandboxLogger;
}

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

const EXEC_OUTPUT_LIMIT = 1024 * 1024;
const DEFAULT_SYSTEM_PATHS = ['/usr', '/bin', '/lib', '/lib64', '/sbin'];
/** Names a directory the Agent SDK makes for a resumed transcript (copied into the sandbox's /tmp). */
const COPY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** Keys each pool keeps items for (image pair sizes, warm sandbox shapes): the most recently used ones. */
const POOL_SIZES = 2;
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;


/**
 * Removes a sandbox's host directory once its filesystems are unmounted, by descriptor (see
 * safe-remove.ts): whatever a sandbox left in it is never followed. Fails when something is left.
 */
async function removeSandboxDir(dir: string): Promise<void> {
  const { left } = await removeTreeByDescriptor(dir);
  if (left.length > 0) throw new Error(`cannot remove ${left.length} entries: ${left.slice(0, 3).join('; ')}`);
}

async function readSysctl(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** HangarError details reason when every uid of the range is taken. */
const UIDS_EXHAUSTED = 'uids-exhausted';

function isUidsExhausted(error: unknown): boolean {
  return error instanceof HangarError && (error.details as { reason?: unknown } | undefined)?.reason === UIDS_EXHAUSTED;
}

/** Hands out host uids from a range; reservations are files shared by all Hangar processes on the host. */
class UidAllocator {
  private readonly held = new Set<number>();
  private cursor = 0;

  constructor(
    private readonly start: number,
    private readonly size: number,
    private readonly lockDir: string,
  ) {}

  async allocate(owner: string): Promise<number> {
    for (let offset = 0; offset < this.size; offset += 1) {
      const uid = this.start + ((this.cursor + offset) % this.size);
      if (this.held.has(uid)) continue;
      if (await this.tryReserve(uid, owner)) {
        this.held.add(uid);
        this.cursor = (uid - this.start + 1) % this.size;
        return uid;
      }
    }
    throw failed(`no free sandbox uid: all ${this.size} uids from ${this.start} are in use (raise uidRangeSize)`, undefined, { reason: UIDS_EXHAUSTED });
  }

  async release(uid: number): Promise<void> {
    if (!this.held.delete(uid)) return;
    await unlink(path.join(this.lockDir, String(uid))).catch(() => undefined);
  }

  private async tryReserve(uid: number, owner: string): Promise<boolean> {
    const file = path.join(this.lockDir, String(uid));
    for (let attempt = 0; attempt < 2; attempt += 1) {
      // The reservation appears with its content at once (link of a written temp file), so a
      // reader never sees it empty: the orphan sweep of another process relies on that.
      const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        await writeFile(temporary, `${process.pid} ${owner}\n`, { flag: 'wx', mode: 0o600 });
        await link(temporary, file);
        return true;
      } catch (error) {
        if (errnoOf(error) !== 'EEXIST') throw failed(`cannot reserve sandbox uid ${uid} in ${this.lockDir}: ${(error as Error).message}`, error);
      } finally {
        await unlink(temporary).catch(() => undefined);
      }
      // Taken: reclaim it only when the process that reserved it is gone.
      const ownerPid = Number((await readFile(file, 'utf8').catch(() => '')).split(' ')[0]);
      if (!Number.isInteger(ownerPid) || ownerPid <= 0 || ownerPid === process.pid || isAlive(ownerPid)) return false;
      await unlink(file).catch(() => undefined);
    }
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM';
  }
}

/** Reads a loop device's backing file from sysfs (without the " (deleted)" suffix); undefined when unbound. */
async function loopBackingFile(sysfsLoopDir: string): Promise<string | undefined> {
  try {
    const text = (await readFile(path.join(sysfsLoopDir, 'backing_file'), 'utf8')).replace(/\n$/, '');
    return text.endsWith(' (deleted)') ? text.slice(0, -' (deleted)'.length) : text;
  } catch {
    return undefined;
  }
}

/** A loop device bound to one of a sandbox's images. */
interface LoopRef {
  device: string;
  /** sysfs directory of the device's loop attributes. */
  sysfs: string;
  image: string;
}

/** A formatted and mounted ext4 image pair waiting in the pool for a sandbox. */
interface PreparedPair {
  dir: string;
  key: string;
  loops: LoopRef[];
}

/** The loop device a mount point's filesystem lives on (from its st_dev), or undefined. */
async function loopOfMountPoint(mountPoint: string, image: string): Promise<LoopRef | undefined> {
  const dev = (await stat(mountPoint)).dev;
  const major = (dev >> 8) & 0xfff;
  const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
  const sysfs = `/sys/dev/block/${major}:${minor}/loop`;
  if ((await loopBackingFile(sysfs)) === undefined) return undefined;
  return { device: `/dev/loop${minor}`, sysfs, image };
}

/** Every bound loop device on the host with its backing file (scans /sys/block). */
async function listLoopDevices(): Promise<Array<{ device: string; backingFile: string }>> {
  const found: Array<{ device: string; backingFile: string }> = [];
  for (const name of await readdir('/sys/block').catch(() => [] as string[])) {
    if (!/^loop\d+$/.test(name)) continue;
    const backingFile = await loopBackingFile(path.join('/sys/block', name, 'loop'));
    if (backingFile !== undefined) found.push({ device: `/dev/${name}`, backingFile });
  }
  return found;
}

/** Splits a workspace-relative path into components, refusing anything that leaves the workspace. */
function workspaceComponents(relativePath: string): string[] {
  if (typeof relativePath !== 'string' || relativePath.includes('\0')) throw invalid('invalid workspace path');
  if (path.isAbsolute(relativePath)) throw invalid(`workspace paths are relative: ${JSON.stringify(relativePath)}`);
  const parts = relativePath.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw invalid(`path escapes the workspace: ${JSON.stringify(relativePath)}`);
  if (parts.length === 0) throw invalid(`path names the workspace itself: ${JSON.stringify(relativePath)}`);
  return parts;
}

function fileError(error: unknown, relativePath: string): HangarError {
  if (error instanceof HangarError) return error;
  const code = errnoOf(error);
  if (code === 'ENOENT') return new HangarError('NOT_FOUND', `no such file in the workspace: ${relativePath}`, { cause: error });
  if (code === 'ELOOP' || code === 'ENOTDIR') return invalid(`workspace path goes through a symbolic link or a non-directory: ${relativePath}`);
  if (code === 'ENOSPC') return failed(`workspace is full (disk limit reached) writing ${relativePath}`, error, { errno: 'ENOSPC' });
  return failed(`workspace file operation failed on ${relativePath}: ${(error as Error).message}`, error);
}

/** Collects a stream's output up to EXEC_OUTPUT_LIMIT bytes; the rest is read and dropped. */
class CappedOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private truncated = false;

  constructor(stream: Readable | null) {
    stream?.on('data', (chunk: Buffer) => {
      const room = EXEC_OUTPUT_LIMIT - this.size;
      if (chunk.length > room) this.truncated = true;
      if (room <= 0) return;
      const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
      this.chunks.push(kept);
      this.size += kept.length;
    });
  }

  text(): string {
    const text = Buffer.concat(this.chunks).toString('utf8');
    return this.truncated ? `${text}\n[hangar: output truncated at ${EXEC_OUTPUT_LIMIT} bytes]\n` : text;
  }
}

/** A sandbox of the warm pool, with what it was made with. */
interface WarmSandbox {
  sandbox: LocalSandboxImpl;
  /** bindIdentities() of its spec when it was made. */
  binds: string;
}


/**
 * True while a child process runs. Asks the kernel too: a child that just died is a zombie until
 * Node handles its SIGCHLD, and exitCode is set only then.
 */
function isRunningChild(child: ChildProcess): boolean {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return false;
  try {
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    // The state follows the command name, which is in parentheses and may itself hold spaces.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Resolves once a child process has exited, or after `timeoutMs`. */
function waitForExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(resolve, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A launcher started by prelaunch(), waiting for the sandbox's first spawn. */
interface WarmLauncher {
  child: ChildProcess;
  /** Host path of the root-owned file handOff() writes the launch to (LAUNCH_DIR/<name> inside). */
  specFile: string;
  /** stderr written before a spawn took the launcher (the last 4 KiB). */
  earlyStderr: string;
  /** The spawn request's stderr receiver, once one took the launcher. */
  onStderr: ((chunk: string) => void) | undefined;
}

/** A host directory copied into the sandbox's /tmp under the same name (see checkCopyIntoTmp()). */
interface CopyIntoTmp {
  hostPath: string;
  name: string;
}

/**
 * Checks a directory to copy into a sandbox: a real directory (not a link) directly under the host's
 * /tmp, with a plain name, owned by this (root) process, so no sandbox can have written to it.
 */
function checkCopyIntoTmp(hostPath: string): CopyIntoTmp {
  const name = path.basename(hostPath);
  if (typeof hostPath !== 'string' || path.dirname(hostPath) !== '/tmp' || !COPY_NAME_PATTERN.test(name)) {
    throw invalid(`copyIntoTmp must be a directory directly under /tmp with a plain name: ${JSON.stringify(hostPath)} (run Hangar with TMPDIR=/tmp)`);
  }
  let info: Stats;
  try {
    info = lstatSync(hostPath);
  } catch (error) {
    throw invalid(`copyIntoTmp ${hostPath} does not exist on the host: ${(error as Error).message}`);
  }
  if (!info.isDirectory()) throw invalid(`copyIntoTmp ${hostPath} is not a directory`);
  if (info.uid !== (process.getuid?.() ?? 0)) throw invalid(`copyIntoTmp ${hostPath} is owned by uid ${info.uid}, not by Hangar: refusing to copy what another user may change`);
  return { hostPath, name };
}

class LocalSandboxImpl implements LocalSandbox {
  readonly workspacePath = WORKSPACE_PATH;
  readonly homePath = HOME_PATH;
  readonly hostGid: number;
  private readonly children = new Set<ChildProcess>();
  private readonly bwrapArgs: string[];
  private destroyed = false;
  private destroying: Promise<void> | undefined;
  /** Settles once destroy's background work (unmounting and deleting the filesystems) is done. */
  released: Promise<void> = Promise.resolve();
  /** Where destroy moved the sandbox's directory for background release, if it did. */
  releasedDir: string | undefined;
  /** The launcher started ahead of the first spawn(), until that spawn uses or stops it. */
  private warm: WarmLauncher | undefined;
  /** Names each launcher's spec file (see startLauncher()). */
  private launcherSequence = 0;

  constructor(
    readonly id: string,
    readonly hostDir: string,
    readonly hostUid: number,
    readonly workspaceBacking: WorkspaceBacking,
    /** Loop devices holding the sandbox's images (ext4 backing). */
    readonly loops: readonly LoopRef[],
    private readonly cgroup: SandboxCgroup,
    private readonly tools: HostTools,
    private readonly bridges: SandboxBridge[],
    readOnlyPaths: string[],
    /** The share of the parent's pids ceiling this sandbox holds (see pids-budget.ts). */
    private readonly pidsBudget: PidsBudget,
    private readonly teardownHost: (sandbox: LocalSandboxImpl) => Promise<void>,
  ) {
    this.hostGid = hostUid;
    this.bwrapArgs = sandboxBwrapArgs({ tools, hostDir, readOnlyPaths, bridges });
  }

  /** Host directory of the launchers' spec files (on the scratch filesystem, root-owned). */
  private get launchDir(): string {
    return launchSpecDir(this.hostDir);
  }

  get cgroupPaths(): readonly string[] {
    return this.cgroup.paths;
  }

  hostPids(): Promise<number[]> {
    return this.cgroup.pids();
  }

  async agentProcesses(): Promise<SandboxProcess[]> {
    this.assertLive();
    const launched = new Set([...this.children].map((child) => child.pid).filter((pid): pid is number => pid !== undefined));
    const entries = agentEntries(await readProcessEntries(await this.cgroup.pids()), launched);
    return entries.map((entry) => ({ pid: entry.nsPid, name: entry.comm }));
  }

  spawn(request: SandboxSpawnRequest): ChildProcess & SpawnedProcess {
    const copyIn = request.copyIntoTmp === undefined ? undefined : checkCopyIntoTmp(request.copyIntoTmp);
    // env(1) would read such a command as a variable assignment.
    if (copyIn !== undefined && request.command.includes('=')) throw invalid(`a command with a copied directory cannot contain '=': ${JSON.stringify(request.command)}`);
    const warm = request.auxiliary === true ? undefined : this.warm;
    if (warm !== undefined) this.warm = undefined;
    let child = warm === undefined ? undefined : this.handOffOrStop(warm, request, copyIn);
    // A directory to copy in travels through a launcher's copy stream: a new launcher takes it.
    if (child === undefined && copyIn !== undefined) {
      child = this.handOffOrStop(this.startLauncher(), request, copyIn);
      if (child === undefined) throw failed(`cannot start ${request.command} in sandbox ${this.id}: its launcher exited at once`);
    }
    child ??= this.launch(request, 'pipe');
    if (child.stdin === null || child.stdout === null) throw failed('sandbox process has no stdio pipes');
    return child as ChildProcess & { stdin: Writable; stdout: Readable };
  }

  /** True while a launcher started by prelaunch() runs and waits for its command. */
  get warmLauncherReady(): boolean {
    return this.warm !== undefined && isRunningChild(this.warm.child);
  }

  /** What the warm launcher wrote to stderr before a spawn took it (why it failed, when it did). */
  get warmLauncherStderr(): string {
    return this.warm?.earlyStderr ?? '';
  }

  /**
   * Starts the launch chain of the sandbox's first spawn() ahead of need (see startLauncher()).
   * Needs bash and env(1); does nothing without them.
   */
  prelaunch(): void {
    this.assertLive();
    if (this.tools.bash === undefined || this.tools.env === undefined || this.warm !== undefined) return;
    this.warm = this.startLauncher();
  }

  /**
   * Starts a launcher: the cgroup join, setpriv, bubblewrap's namespaces and mounts, and the
   * bridges, up to a bash (no startup files) that waits for one line on its stdin. handOff() then
   * writes the command, its arguments, environment and working directory NUL-separated to the
   * launcher's own root-owned file under <hostDir>/launch (read-only inside, at LAUNCH_DIR) and
   * sends the line. bash reads the file; when a directory is to be copied in, it makes it under
   * /tmp and unpacks into it, as the sandbox user, the tar stream the host sends on fd 4; then it
   * execs the command through `env -i`, so the command keeps the launcher's pid and stdio pipes.
   */
  private startLauncher(): WarmLauncher {
    this.assertLive();
    const { bash, env: envTool } = this.tools;
    if (bash === undefined || envTool === undefined) throw unavailable('bash and env(1) are needed to launch a process with a copied directory: apt-get install bash coreutils');
    const specName = `spec-${this.launcherSequence++}`;
    const script = launcherScript({ prelude: bridgePrelude(this.tools, this.bridges), specPath: `${LAUNCH_DIR}/${specName}`, tar: this.tools.tar, env: envTool });
    const child = this.startChain({
      bwrapArgs: ['--ro-bind', this.launchDir, LAUNCH_DIR],
      argsData: environmentArgs({}),
      cwd: WORKSPACE_PATH,
      command: [bash, ...NO_STARTUP_FILES, '-c', script, 'hangar-launcher'],
      stdin: 'pipe',
      copyStream: true,
    });
    const specFile = path.join(this.launchDir, specName);
    const launcher: WarmLauncher = { child, specFile, earlyStderr: '', onStderr: undefined };
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (launcher.onStderr !== undefined) launcher.onStderr(chunk);
      else launcher.earlyStderr = (launcher.earlyStderr + chunk).slice(-4096);
    });
    // A launcher that fails before its command arrives (stdin closed...) is dropped.
    child.stdin?.on('error', () => undefined);
    child.once('exit', () => void unlink(specFile).catch(() => undefined));
    return launcher;
  }

  /** handOff(), stopping the launcher when the request cannot use it (it would only wait). */
  private handOffOrStop(launcher: WarmLauncher, request: SandboxSpawnRequest, copyIn: CopyIntoTmp | undefined): ChildProcess | undefined {
    let child: ChildProcess | undefined;
    try {
      child = this.handOff(launcher, request, copyIn);
    } finally {
      if (child === undefined) launcher.child.kill('SIGKILL');
    }
    return child;
  }

  /**
   * Gives a spawn request to a launcher; undefined when the launcher is gone or the command is one
   * env(1) would read as a variable. A directory to copy in is sent as a tar stream made on the host
   * by a root tar reading only that directory (which no sandbox process can see), with the
   * credentials file the Agent SDK puts there left out.
   */
  private handOff(launcher: WarmLauncher, request: SandboxSpawnRequest, copyIn: CopyIntoTmp | undefined): ChildProcess | undefined {
    const { env, cwd } = this.checkLaunch(request);
    if (!isRunningChild(launcher.child) || request.command.includes('=')) return undefined;
    const spec = launcherSpec({ cwd, copyName: copyIn?.name, env, command: request.command, args: request.args });
    const file = openSync(launcher.specFile, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o644);
    try {
      writeSync(file, spec);
    } finally {
      closeSync(file);
    }
    const onStderr = request.onStderr ?? ((): void => undefined);
    if (launcher.earlyStderr !== '') onStderr(launcher.earlyStderr);
    launcher.onStderr = onStderr;
    const copyStream = launcher.child.stdio[4] as Writable | null | undefined;
    if (copyStream !== null && copyStream !== undefined) {
      copyStream.on('error', () => undefined);
      if (copyIn === undefined) copyStream.end();
      else this.sendCopy(copyIn, copyStream, onStderr);
    }
    launcher.child.stdin?.write('\n');
    return launcher.child;
  }

  /** Streams a tar of a host directory (made by a root tar on the host) into a launcher's copy stream. */
  private sendCopy(copyIn: CopyIntoTmp, into: Writable, onStderr: (chunk: string) => void): void {
    const tar = spawn(this.tools.tar, ['-c', '-f', '-', '-C', copyIn.hostPath, '--numeric-owner', '--exclude=./.credentials.json', '.'], {
      env: {},
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    tar.stderr.setEncoding('utf8');
    tar.stderr.on('data', (chunk: string) => onStderr(`hangar: copying ${copyIn.hostPath}: ${chunk}`));
    tar.once('error', (error) => {
      onStderr(`hangar: cannot copy ${copyIn.hostPath}: ${error.message}\n`);
      into.destroy();
    });
    // The launcher exiting first (killed, failed) ends the copy.
    into.once('close', () => tar.kill('SIGKILL'));
    tar.stdout.pipe(into);
  }

  /** Replaces the sandbox's memory, cpu and pids limits. */
  async setLimits(resources: SandboxSpec['resources']): Promise<void> {
    // The new pids limit is reserved first: a sandbox never holds more than its share of the parent.
    this.pidsBudget.reserve(this.id, resources.pids);
    await this.cgroup.setLimits({ memoryBytes: Math.floor(resources.memoryMb * MIB), cpus: resources.cpus, pids: resources.pids });
  }

  exec(command: string, args: string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<SandboxExecResult> {
    const request: SandboxSpawnRequest = { command, args, env: options.env ?? {} };
    if (options.cwd !== undefined) request.cwd = options.cwd;
    let child: ChildProcess;
    try {
      child = this.launch(request, 'ignore', true);
    } catch (error) {
      return Promise.reject(error);
    }
    const stdout = new CappedOutput(child.stdout);
    const stderr = new CappedOutput(child.stderr);
    return new Promise<SandboxExecResult>((resolve, reject) => {
      let settled = false;
      let timedOut = false;
      const timer =
        options.timeoutMs !== undefined && options.timeoutMs > 0
          ? setTimeout(() => {
              timedOut = true;
              child.kill('SIGKILL');
            }, options.timeoutMs)
          : undefined;
      child.once('error', (error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(failed(`cannot start ${command} in sandbox ${this.id}: ${error.message}`, error));
      });
      child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const timeoutNote = timedOut ? `\n[hangar: killed after the ${options.timeoutMs} ms timeout]\n` : '';
        resolve({ exitCode: code, signal, stdout: stdout.text(), stderr: stderr.text() + timeoutNote });
      });
    });
  }

  async readFile(relativePath: string): Promise<Buffer> {
    const parts = workspaceComponents(relativePath);
    const name = parts.pop() as string;
    this.assertLive();
    let dir: FileHandle | undefined;
    let file: FileHandle | undefined;
    try {
      dir = await this.openWorkspaceDir(parts, false);
      file = await open(pathAt(dir, name), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
      if (!(await file.stat()).isFile()) throw invalid(`not a regular file: ${relativePath}`);
      return await file.readFile();
    } catch (error) {
      throw fileError(error, relativePath);
    } finally {
      await file?.close();
      await dir?.close();
    }
  }

  async writeFile(relativePath: string, content: Buffer | string): Promise<void> {
    const parts = workspaceComponents(relativePath);
    const name = parts.pop() as string;
    this.assertLive();
    let dir: FileHandle | undefined;
    let file: FileHandle | undefined;
    try {
      dir = await this.openWorkspaceDir(parts, true);
      file = await open(pathAt(dir, name), fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK, 0o644);
      if (!(await file.stat()).isFile()) throw invalid(`not a regular file: ${relativePath}`);
      await file.truncate(0);
      await file.writeFile(content);
      await file.chown(this.hostUid, this.hostGid);
    } catch (error) {
      throw fileError(error, relativePath);
    } finally {
      await file?.close();
      await dir?.close();
    }
  }

  async scanFiles(options: WorkspaceScanOptions): Promise<WorkspaceScan> {
    this.assertLive();
    return scanWorkspaceFiles(() => this.openWorkspaceDir([], false), options);
  }

  async readFileBytes(relativePath: Buffer, options: WorkspaceReadOptions): Promise<WorkspaceFileRead> {
    this.assertLive();
    return readWorkspaceFileBytes(() => this.openWorkspaceDir([], false), relativePath, options);
  }

  async listFiles(): Promise<string[]> {
    this.assertLive();
    const files: string[] = [];
    const walk = async (dir: FileHandle, prefix: string): Promise<void> => {
      const entries = await readdir(`/proc/self/fd/${dir.fd}`, { withFileTypes: true });
      for (const entry of entries) {
        const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
        if (entry.isFile()) files.push(relative);
        else if (entry.isDirectory()) {
          let child: FileHandle | undefined;
          try {
            child = await open(pathAt(dir, entry.name), DIR_FLAGS);
            await walk(child, relative);
          } catch (error) {
            // An entry replaced by a symlink or removed while walking is skipped.
            if (!['ELOOP', 'ENOTDIR', 'ENOENT'].includes(errnoOf(error) ?? '')) throw error;
          } finally {
            await child?.close();
          }
        }
      }
    };
    const root = await open(path.join(this.hostDir, 'workspace'), DIR_FLAGS);
    try {
      await walk(root, '');
    } finally {
      await root.close();
    }
    return files.sort();
  }

  stats(): Promise<SandboxStats> {
    return this.cgroup.stats();
  }

  destroy(): Promise<void> {
    this.destroyed = true;
    this.destroying ??= this.teardownHost(this).catch((error: unknown) => {
      // A failed teardown may be retried by calling destroy() again.
      this.destroying = undefined;
      throw error;
    });
    return this.destroying;
  }

  async stopProcesses(): Promise<void> {
    this.assertLive();
    this.warm = undefined;
    const children = this.killChildren();
    if (!(await this.cgroup.kill())) throw failed(`sandbox ${this.id}: processes survived a kill of its cgroup`);
    await Promise.all(children.map((child) => waitForExit(child, 2000)));
  }

  /** Kills the processes this sandbox started (used by teardown). */
  killChildren(): ChildProcess[] {
    const children = [...this.children];
    for (const child of children) child.kill('SIGKILL');
    return children;
  }

  removeCgroup(): Promise<void> {
    return this.cgroup.remove();
  }

  private assertLive(): void {
    if (this.destroyed) throw failed(`sandbox ${this.id} is destroyed`);
  }

  /** Opens a directory under the workspace component by component, never following symlinks. */
  private async openWorkspaceDir(parts: string[], create: boolean): Promise<FileHandle> {
    let current = await open(path.join(this.hostDir, 'workspace'), DIR_FLAGS);
    try {
      for (const part of parts) {
        let next: FileHandle;
        try {
          next = await open(pathAt(current, part), DIR_FLAGS);
        } catch (error) {
          if (!create || errnoOf(error) !== 'ENOENT') throw error;
          await mkdir(pathAt(current, part), { mode: 0o755 }).catch((mkdirError: unknown) => {
            if (errnoOf(mkdirError) !== 'EEXIST') throw mkdirError;
          });
          next = await open(pathAt(current, part), DIR_FLAGS);
          await next.chown(this.hostUid, this.hostGid);
        }
        await current.close();
        current = next;
      }
      return current;
    } catch (error) {
      await current.close().catch(() => undefined);
      throw error;
    }
  }


  /** Checks a launch request; returns its complete environment and working directory. */
  private checkLaunch(request: SandboxSpawnRequest): { env: Record<string, string>; cwd: string } {
    this.assertLive();
    return checkLaunchRequest(request);
  }

  /** Starts one bubblewrap invocation for a command; see the file header for the launch chain. */
  private launch(request: SandboxSpawnRequest, stdin: 'pipe' | 'ignore', collecting = false): ChildProcess {
    const { env, cwd } = this.checkLaunch(request);
    // Environment and nothing else travels through fd 3, read by bwrap's --args.
    const command = launchCommand(this.tools, this.bridges, request.command, request.args);
    const child = this.startChain({ bwrapArgs: [], argsData: environmentArgs(env), cwd, command, stdin });
    if (!collecting) {
      const onStderr = request.onStderr;
      child.stderr?.setEncoding('utf8');
      // stderr is always drained so a chatty process never blocks on a full pipe.
      child.stderr?.on('data', (chunk: string) => onStderr?.(chunk));
    }
    return child;
  }

  /**
   * Starts the launch chain: sh joins the cgroups, setpriv drops to the sandbox uid, bubblewrap
   * reads `argsData` (NUL-separated arguments) from fd 3, sets up the namespaces and runs `command`.
   */
  private startChain(options: { bwrapArgs: string[]; argsData: Buffer; cwd: string; command: string[]; stdin: 'pipe' | 'ignore'; copyStream?: boolean }): ChildProcess {
    const argv = [
      '-c', cgroupJoinScript(this.cgroup.procsFiles), 'hangar-sandbox',
      this.tools.setpriv,
      ...dropToSandboxArgv({
        bwrap: this.tools.bwrap,
        uid: this.hostUid,
        descriptors: { args: 3, seccomp: 5 },
        bwrapArgs: [...this.bwrapArgs, ...options.bwrapArgs],
        cwd: options.cwd,
        command: options.command,
      }),
    ];
    // fd 3: bwrap's arguments; fd 4 (launchers only): the tar stream of a directory to copy in;
    // fd 5: the seccomp filter bwrap installs right before it execs the command.
    const stdio: Array<'pipe' | 'ignore'> = [options.stdin, 'pipe', 'pipe', 'pipe', options.copyStream === true ? 'pipe' : 'ignore', 'pipe'];
    const child = spawn(this.tools.sh, argv, { env: {}, cwd: '/', stdio });
    this.children.add(child);
    const forget = (): void => {
      this.children.delete(child);
    };
    child.once('exit', forget);
    child.once('error', forget);
    const argsPipe = child.stdio[3] as Writable | null;
    argsPipe?.on('error', () => undefined);
    argsPipe?.end(options.argsData);
    const seccompPipe = (child.stdio as unknown as Array<Writable | null>)[5];
    seccompPipe?.on('error', () => undefined);
    seccompPipe?.end(this.tools.seccompFilter);
    return child;
  }
}

/** Creates the local provider; nothing touches the host until the first create(). */
export function createLocalSandboxProvider(settings: LocalSandboxSettings): LocalSandboxProvider {
  const rootDir = path.resolve(settings.rootDir);
  const uidStart = settings.uidRangeStart ?? 200_000;
  const uidSize = settings.uidRangeSize ?? 10_000;
  if (!Number.isInteger(uidStart) || uidStart < 1000 || !Number.isInteger(uidSize) || uidSize < 1 || uidStart + uidSize > 2 ** 31) {
    throw new HangarError('CONFIG_INVALID', `invalid sandbox uid range ${uidStart}+${uidSize}`);
  }
  if (settings.scratchMb !== undefined && !(Number.isFinite(settings.scratchMb) && settings.scratchMb > 0)) {
    throw new HangarError('CONFIG_INVALID', `invalid sandbox scratchMb ${settings.scratchMb}`);
  }
  const backing: WorkspaceBacking = settings.workspaceBacking ?? 'ext4';
  if (backing !== 'ext4' && backing !== 'tmpfs') {
    throw new HangarError('CONFIG_INVALID', `invalid sandbox workspaceBacking ${JSON.stringify(backing)}: use ext4 or tmpfs`);
  }
  const poolSize = backing === 'ext4' ? (settings.ext4PoolSize ?? 2) : 0;
  if (!Number.isInteger(poolSize) || poolSize < 0 || poolSize > 64) {
    throw new HangarError('CONFIG_INVALID', `invalid sandbox ext4PoolSize ${settings.ext4PoolSize}: use an integer from 0 to 64`);
  }
  const warmPoolSize = settings.warmPoolSize ?? 0;
  if (!Number.isInteger(warmPoolSize) || warmPoolSize < 0 || warmPoolSize > 64) {
    throw new HangarError('CONFIG_INVALID', `invalid sandbox warmPoolSize ${settings.warmPoolSize}: use an integer from 0 to 64`);
  }
  // Short host commands (mount, umount, losetup, mkfs) run through small long-lived shells: one for
  // what a caller waits for, one at the lowest CPU priority for the pools' background work (image
  // pairs made ahead of need, filesystems released after a destroy).
  const hostShell = createHostShell();
  const backgroundShell = createHostShell({ niceness: 19 });
  const uidLockDir = settings.uidLockDir ?? '/run/hangar/uids';
  const logger = settings.logger;
  const cgroups = createCgroupManager({
    parent: settings.cgroupParent ?? 'hangar',
    ...(settings.hostLimits !== undefined ? { hostLimits: settings.hostLimits } : {}),
    onCeilings: (ceilings: HostCeilings) => {
      logger?.debug({ ceilings }, 'host-wide sandbox ceilings set on the parent cgroup');
      if (ceilings.tcp.state === 'unavailable') logger?.warn({ detail: ceilings.tcp.detail }, 'TCP socket buffers of sandboxes have no per-sandbox limit');
    },
  });
  const uids = new UidAllocator(uidStart, uidSize, uidLockDir);
  const pidsBudget = createPidsBudget(() => cgroups.ceilings()?.pids);
  const live = new Map<string, LocalSandboxImpl>();
  const reservedIds = new Set<string>();
  /** create() calls that have not settled yet; close() waits for them. */
  const inFlight = new Set<Promise<LocalSandbox>>();
  /** close() calls running: a create() that finishes meanwhile destroys what it made and fails. */
  let closing = 0;
  let toolsPromise: Promise<HostTools> | undefined;
  /** rootDir with symlinks resolved, as loop devices report their backing files (set by preflight). */
  let realRootDir = rootDir;
  /** Formatted ext4 image pairs by size key (diskMb:scratchMb), for the most recently used sizes. */
  const pairPool = new AheadOfNeedPool<{ tools: HostTools; diskMb: number; scratchMb: number }, PreparedPair>({
    size: poolSize,
    keys: POOL_SIZES,
    make: (key, { tools, diskMb, scratchMb }) => preparePair(tools, key, diskMb, scratchMb),
    discard: (pair, { tools }) => void removePairLater(tools, pair),
    stopped: () => closing > 0,
    onMakeFailed: (error) => logger?.warn({ err: error }, 'cannot prepare a sandbox image pair ahead of need'),
  });
  /** Warm sandboxes by shape (see shapeOf), for the most recently used shapes. */
  const warmPool = new AheadOfNeedPool<SandboxSpec, WarmSandbox>({
    size: warmPoolSize,
    keys: POOL_SIZES,
    make: async (_key, spec) => {
      const binds = await bindIdentities(spec);
      const sandbox = await createSandbox(spec, true);
      try {
        sandbox.prelaunch();
      } catch (error) {
        discardWarm(sandbox);
        throw error;
      }
      return { sandbox, binds };
    },
    discard: (entry) => discardWarm(entry.sandbox),
    stopped: () => closing > 0,
    // A full uid range or pids ceiling is the pool giving way to sandboxes in use, not a fault.
    onMakeFailed: (error) =>
      isUidsExhausted(error) || isPidsExhausted(error)
        ? logger?.debug({ err: error }, 'no uid or pids left for a warm sandbox') : logger?.warn({ err: error }, 'cannot make a warm sandbox ahead of need'),
  });
  /** Removals of pairs that are no longer wanted, while they run. */
  const poolRemovals = new Set<Promise<void>>();
  let poolSequence = 0;

  const checkRootDirReachable = async (): Promise<void> => {
    await mkdir(rootDir, { recursive: true, mode: 0o711 });
    await chmod(rootDir, 0o711);
    // bubblewrap runs as the sandbox uid and must traverse every ancestor to bind the sandbox dirs.
    for (let dir = path.dirname(rootDir); ; dir = path.dirname(dir)) {
      const mode = (await stat(dir)).mode;
      if ((mode & 0o001) === 0) {
        throw unavailable(`sandbox rootDir ${rootDir} is not reachable by unprivileged uids: ${dir} lacks the o+x permission (chmod o+x ${dir}, or choose another rootDir)`);
      }
      if (dir === '/') break;
    }
  };

  const systemPathArgs = async (): Promise<{ args: string[]; binds: string[] }> => {
    const args: string[] = [];
    const binds: string[] = [];
    for (const systemPath of settings.readOnlySystemPaths ?? DEFAULT_SYSTEM_PATHS) {
      let info: Stats;
      try {
        info = await lstat(systemPath);
      } catch {
        continue;
      }
      if (info.isSymbolicLink()) args.push('--symlink', await readlink(systemPath), systemPath);
      else {
        args.push('--ro-bind', systemPath, systemPath);
        binds.push(systemPath);
      }
    }
    return { args, binds };
  };

  /** Unmounts mount points (one umount run in the common case); ignores those not mounted. */
  const unmount = async (tools: HostTools, dirs: string[], shell: HostShell): Promise<void> => {
    try {
      // -d frees the loop devices of ext4 images in the same call (no losetup round trip).
      await shell.run(tools.umount, backing === 'ext4' ? ['-d', ...dirs] : dirs);
      return;
    } catch {
      // One of them failed: handle each on its own.
    }
    for (const dir of dirs) {
      try {
        await shell.run(tools.umount, [dir]);
      } catch (error) {
        const stderr = stderrOf(error);
        if (/not mounted|no mount point|no such file/i.test(stderr)) continue;
        // Busy: detach it now, the kernel frees it when the last user goes.
        await shell.run(tools.umount, ['-l', dir]);
      }
    }
  };

  /** Detaches loop devices with losetup -d; a device still in use is freed when its last user goes. */
  const detachLoops = async (tools: HostTools, devices: string[], shell: HostShell): Promise<void> => {
    if (devices.length === 0) return;
    if (tools.losetup === undefined) throw new Error(`losetup not found: cannot detach ${devices.join(', ')} (apt-get install mount)`);
    const problems: string[] = [];
    for (const device of devices) {
      try {
        await shell.run(tools.losetup, ['-d', device]);
      } catch (error) {
        const stderr = stderrOf(error);
        // Already detached (autoclear on unmount won the race).
        if (/no such device|no such file/i.test(stderr)) continue;
        problems.push(`${device}: ${stderr.trim() || (error as Error).message}`);
      }
    }
    if (problems.length > 0) throw new Error(`cannot detach loop devices: ${problems.join('; ')}`);
  };

  /** Detaches the loop devices of a sandbox that are still bound to its images (unmounting frees them). */
  const releaseLoops = async (tools: HostTools, loops: readonly LoopRef[], shell: HostShell): Promise<void> => {
    const bound: string[] = [];
    for (const loop of loops) if ((await loopBackingFile(loop.sysfs)) === loop.image) bound.push(loop.device);
    await detachLoops(tools, bound, shell);
  };

  /** Detaches every loop device whose backing file lies under a host directory (scans all loop devices). */
  const releaseLoopsUnder = async (tools: HostTools, dir: string, shell: HostShell): Promise<void> => {
    const devices = (await listLoopDevices()).filter((loop) => isUnder(loop.backingFile, dir)).map((loop) => loop.device);
    await detachLoops(tools, devices, shell);
  };

  /**
   * Unmounts a sandbox's workspace and scratch; with the ext4 backing also detaches its loop devices
   * (the recorded ones when known, else any bound to an image in its directory).
   */
  const releaseMounts = async (tools: HostTools, dir: string, loops: readonly LoopRef[] | undefined, shell = hostShell): Promise<void> => {
    await unmount(tools, mountPointsOf(dir), shell);
    if (backing !== 'ext4') return;
    if (loops !== undefined) await releaseLoops(tools, loops, shell);
    else await releaseLoopsUnder(tools, path.join(realRootDir, path.basename(dir)), shell);
  };

  /** Runs a minimal sandbox once, so a host that cannot isolate fails here with a clear message. */
  const probe = async (tools: HostTools): Promise<void> => {
    const probeUid = uidStart + uidSize - 1;
    const argv = dropToSandboxArgv({ bwrap: tools.bwrap, uid: probeUid, bwrapArgs: probeBwrapArgs(tools.systemArgs), cwd: '/', command: [tools.sh, '-c', 'exit 0'] });
    try {
      await execFileAsync(tools.setpriv, argv, { env: {}, cwd: '/', timeout: 15_000 });
    } catch (error) {
      const stderr = stderrOf(error);
      throw unavailable(
        `bubblewrap cannot create a sandbox as an unprivileged user on this host (${stderr || (error as Error).message}): enable unprivileged user namespaces ` +
          '(sysctl -w user.max_user_namespaces=15000; on Debian kernel.unprivileged_userns_clone=1; on Ubuntu kernel.apparmor_restrict_unprivileged_userns=0)',
        error,
      );
    }
  };

  const preflight = async (): Promise<HostTools> => {
    if (process.getuid?.() !== 0) {
      throw unavailable('the local sandbox provider must run as root: it mounts filesystems per sandbox, manages cgroups and drops each sandbox to its own uid');
    }
    const found = {
      bwrap: await findExecutable('bwrap', settings.bwrapPath),
      socat: await findExecutable('socat', settings.socatPath),
      setpriv: await findExecutable('setpriv', settings.setprivPath),
      mount: await findExecutable('mount', undefined),
      umount: await findExecutable('umount', undefined),
      sleep: await findExecutable('sleep', undefined),
      cat: await findExecutable('cat', undefined),
      ss: await findExecutable('ss', undefined),
      tar: await findExecutable('tar', undefined),
      env: await findExecutable('env', undefined),
      mkfsExt4: await findExecutable('mkfs.ext4', undefined),
      losetup: await findExecutable('losetup', undefined),
      sh: (await isExecutable('/bin/sh')) ? '/bin/sh' : undefined,
      bash: await findExecutable('bash', undefined),
    };
    const missing: string[] = [];
    if (found.bwrap === undefined) missing.push('bubblewrap (bwrap) not found: install it with `apt-get install bubblewrap`');
    if (found.socat === undefined) missing.push('socat not found: install it with `apt-get install socat`');
    if (found.setpriv === undefined) missing.push('setpriv not found: install it with `apt-get install util-linux`');
    if (found.mount === undefined || found.umount === undefined) missing.push('mount/umount not found: install them with `apt-get install mount`');
    if (found.sleep === undefined || found.cat === undefined) missing.push('sleep/cat not found: install them with `apt-get install coreutils`');
    if (found.sh === undefined) missing.push('/bin/sh not found: install it with `apt-get install dash`');
    if (found.tar === undefined) missing.push('tar not found: install it with `apt-get install tar`');
    if (backing === 'ext4') {
      if (found.mkfsExt4 === undefined) missing.push('mkfs.ext4 not found (ext4 workspaces): install it with `apt-get install e2fsprogs`, or set workspaceBacking to tmpfs');
      if (found.losetup === undefined) missing.push('losetup not found (ext4 workspaces): install it with `apt-get install mount`, or set workspaceBacking to tmpfs');
      if (!(await stat('/dev/loop-control').then(() => true, () => false))) {
        missing.push('/dev/loop-control not found (ext4 workspaces need loop devices): run `modprobe loop`, or set workspaceBacking to tmpfs');
      }
    }
    const seccompArch = hostSeccompArch();
    if (seccompArch === undefined) missing.push(`no seccomp filter is built for the ${process.arch} architecture: local sandboxes run on x86_64 and aarch64 hosts`);
    if (missing.length > 0) throw unavailable(missing.join('; '));

    if ((await readSysctl('/proc/sys/user/max_user_namespaces')) === '0') {
      throw unavailable('user namespaces are disabled: enable them with `sysctl -w user.max_user_namespaces=15000`');
    }
    if ((await readSysctl('/proc/sys/kernel/unprivileged_userns_clone')) === '0') {
      throw unavailable('unprivileged user namespaces are disabled: enable them with `sysctl -w kernel.unprivileged_userns_clone=1`');
    }
    if ((await readSysctl('/proc/sys/kernel/apparmor_restrict_unprivileged_userns')) === '1') {
      throw unavailable('AppArmor restricts unprivileged user namespaces: run `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` or install an AppArmor profile for bwrap');
    }
    await cgroups.prepare();
    if (settings.favorDynamicCgroups !== false) {
      const mountProgram = found.mount as string;
      const outcome = await favorDynamicModifications({ mount: (args) => hostShell.run(mountProgram, args) });
      if (outcome.state === 'unavailable') {
        logger?.warn({ reason: outcome.reason }, 'cannot mount a cgroup hierarchy with favordynmods: each launch in a sandbox may wait ~20 ms for the kernel');
      }
    }
    await checkRootDirReachable();
    realRootDir = await realpath(rootDir);
    if (backing === 'ext4') {
      const fsType = (await statfs(rootDir)).type;
      if (fsType === TMPFS_MAGIC || fsType === RAMFS_MAGIC) {
        logger?.warn({ rootDir }, 'sandbox rootDir is on tmpfs: ext4 workspace images there count toward memory like a tmpfs workspace; put rootDir on a disk');
      }
    }
    await mkdir(uidLockDir, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
      throw unavailable(`cannot create the uid reservation directory ${uidLockDir}: ${(error as Error).message}`, error);
    });
    const system = await systemPathArgs();
    const etcEntries = system.binds.includes('/etc') ? [] : await readHostEtcEntries();
    const procMasks = await readMaskableProcFiles();
    const tools: HostTools = {
      sh: found.sh as string,
      bash: found.bash,
      bwrap: found.bwrap as string,
      socat: found.socat as string,
      setpriv: found.setpriv as string,
      mount: found.mount as string,
      umount: found.umount as string,
      sleep: found.sleep as string,
      cat: found.cat as string,
      ss: found.ss,
      tar: found.tar as string,
      seccompFilter: buildSeccompFilter(seccompArch as SeccompArch),
      env: found.env,
      mkfsExt4: found.mkfsExt4,
      losetup: found.losetup,
      etcEntries,
      procMasks,
      systemArgs: system.args,
      systemBinds: system.binds,
    };
    await probe(tools);
    await sweepOrphans(tools);
    logger?.debug({ tools: { bwrap: tools.bwrap, socat: tools.socat, setpriv: tools.setpriv }, rootDir }, 'local sandbox provider ready');
    return tools;
  };

  /**
   * Removes what crashed Hangar processes left: groups and sandbox dirs whose id no live process
   * holds a uid reservation for (a reservation is made before, and released after, everything else).
   */
  const sweepOrphans = async (tools: HostTools): Promise<void> => {
    // Cgroups are listed before reservations are read: a sandbox reserves its uid before it makes
    // its cgroup, so every group in this list that a live process is creating has its
    // reservation in place by the time the reservations are read.
    const cgroupNames = await cgroups.list();
    const owned = new Set<string>();
    for (const entry of await readdir(uidLockDir).catch(() => [] as string[])) {
      const file = path.join(uidLockDir, entry);
      if (entry.endsWith('.tmp')) {
        // `<uid>.<pid>.<random>.tmp`: a reservation being made; removed when its process is gone.
        const writer = Number(entry.split('.')[1]);
        if (Number.isInteger(writer) && writer > 0 && writer !== process.pid && !isAlive(writer)) await unlink(file).catch(() => undefined);
        continue;
      }
      const [pidText, owner] = (await readFile(file, 'utf8').catch(() => '')).trim().split(' ');
      const pid = Number(pidText);
      // Unreadable content counts as live (it is never empty: see tryReserve).
      if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || isAlive(pid)) {
        if (owner !== undefined) owned.add(owner);
        continue;
      }
      await unlink(file).catch(() => undefined);
    }
    const swept: string[] = [];
    for (const name of cgroupNames) {
      if (owned.has(name)) continue;
      try {
        await (await cgroups.open(name)).remove();
        swept.push(`cgroup ${name}`);
      } catch (error) {
        logger?.warn({ cgroup: name, err: error }, 'cannot remove orphaned sandbox cgroup');
      }
    }
    /** A pool directory's entry whose process is gone (`.pool-<pid>-<n>`). */
    const deadPool = (entry: string): boolean => {
      const match = /^\.pool-(\d+)-\d+$/.exec(entry);
      return match !== null && Number(match[1]) !== process.pid && !isAlive(Number(match[1]));
    };
    const orphans = (await readdir(rootDir).catch(() => [] as string[])).filter((entry) => (ID_PATTERN.test(entry) && !owned.has(entry)) || deadPool(entry));
    const unmounted: string[] = [];
    for (const entry of orphans) {
      const dir = path.join(rootDir, entry);
      try {
        await unmount(tools, [...mountPointsOf(dir), dir], hostShell);
        unmounted.push(entry);
      } catch (error) {
        logger?.warn({ dir, err: error }, 'cannot unmount orphaned sandbox directory');
      }
    }
    // Loop devices still bound to an orphan's image (attached but never mounted, or mounted
    // elsewhere), whether or not the image file still exists. Unmounting freed the others.
    for (const loop of await listLoopDevices()) {
      if (!isUnder(loop.backingFile, realRootDir)) continue;
      const owner = path.relative(realRootDir, loop.backingFile).split(path.sep)[0] ?? '';
      if (!((ID_PATTERN.test(owner) && !owned.has(owner)) || deadPool(owner))) continue;
      try {
        await detachLoops(tools, [loop.device], hostShell);
        swept.push(`loop ${loop.device} (${loop.backingFile})`);
      } catch (error) {
        logger?.warn({ device: loop.device, backingFile: loop.backingFile, err: error }, 'cannot detach orphaned sandbox loop device');
      }
    }
    for (const entry of unmounted) {
      const dir = path.join(rootDir, entry);
      try {
        // Removes the image files too.
        await removeSandboxDir(dir);
        swept.push(`dir ${entry}`);
      } catch (error) {
        logger?.warn({ dir, err: error }, 'cannot remove orphaned sandbox directory');
      }
    }
    // Resumed-transcript directories that earlier Hangar builds handed to sandbox uids in the
    // host's /tmp (bound in writable): removed by descriptor, whatever a sandbox planted in them.
    for (const entry of await readdir('/tmp').catch(() => [] as string[])) {
      if (!entry.startsWith('claude-resume-')) continue;
      const leftover = path.join('/tmp', entry);
      const owner = (await lstat(leftover).catch(() => undefined))?.uid;
      if (owner === undefined || owner < uidStart || owner >= uidStart + uidSize) continue;
      const { left } = await removeTreeByDescriptor(leftover);
      if (left.length === 0) swept.push(`sandbox-owned ${leftover}`);
      else logger?.warn({ dir: leftover, left: left.slice(0, 5) }, 'cannot remove a sandbox-owned directory from /tmp');
    }
    if (swept.length > 0) logger?.warn({ swept }, 'removed leftovers of sandboxes whose Hangar process is gone');
  };

  const ensureTools = (): Promise<HostTools> => {
    toolsPromise ??= preflight().catch((error: unknown) => {
      // Not cached: the next create() checks the host again.
      toolsPromise = undefined;
      throw error;
    });
    return toolsPromise;
  };

  /**
   * Mounts the sandbox's two tmpfs (workspace and scratch) with one mount run: they are listed in a
   * private fstab file and mounted with `mount -a --fstab`, which costs what a single mount costs.
   */
  const mountTmpfs = async (tools: HostTools, dir: string, id: string, uid: number, diskMb: number, scratchMb: number): Promise<void> => {
    const [workspace, scratch] = mountPointsOf(dir);
    const fstab = path.join(dir, 'fstab');
    await writeFile(fstab, tmpfsFstab({ id, uid, workspace, scratch, diskMb, scratchMb }), { mode: 0o600 });
    await hostShell.run(tools.mount, ['-a', '--fstab', fstab]);
  };

  /**
   * Makes the sandbox's two ext4 images and loop-mounts them with one child process (every process
   * Hangar starts costs a fork of its whole address space):
   *   sh -c 'mkfs.ext4 ... workspace.img & mkfs.ext4 ... scratch.img; wait; exec mount -a --fstab F'
   * The sparse image files are created here first; the fstab lists both loop mounts, and mount sets
   * each loop device up with autoclear, so unmounting frees it. Returns the loop devices.
   */
  const mountExt4 = async (tools: HostTools, dir: string, uid: number, diskMb: number, scratchMb: number, shell = hostShell): Promise<LoopRef[]> => {
    const [workspace, scratch] = mountPointsOf(dir);
    const images = [path.join(dir, 'workspace.img'), path.join(dir, 'scratch.img')] as const;
    const makeSparseFile = async (file: string, sizeMb: number): Promise<void> => {
      const handle = await open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
      try {
        await handle.truncate(imageBytes(sizeMb));
      } finally {
        await handle.close();
      }
    };
    const fstab = path.join(dir, 'fstab');
    await Promise.all([
      makeSparseFile(images[0], diskMb),
      makeSparseFile(images[1], scratchMb),
      writeFile(fstab, ext4Fstab([{ image: images[0], mountPoint: workspace }, { image: images[1], mountPoint: scratch }]), { mode: 0o600 }),
    ]);
    const script = formatAndMountScript({ mkfsExt4: tools.mkfsExt4 as string, mount: tools.mount }, uid);
    try {
      await shell.run(tools.sh, ['-c', script, 'hangar-ext4', images[0], images[1], fstab], { timeoutMs: 60_000 });
    } catch (error) {
      const stderr = stderrOf(error);
      throw new Error(`cannot make and mount the ext4 images (${diskMb} + ${scratchMb} MiB): ${stderr || (error as Error).message}`, { cause: error });
    }
    // lost+found serves fsck, which never runs on these filesystems; it would show in the workspace.
    await Promise.all([rmdir(path.join(workspace, 'lost+found')), rmdir(path.join(scratch, 'lost+found')), chmod(scratch, 0o700)]);
    const realDir = path.join(realRootDir, path.basename(dir));
    const loops = await Promise.all([loopOfMountPoint(workspace, path.join(realDir, 'workspace.img')), loopOfMountPoint(scratch, path.join(realDir, 'scratch.img'))]);
    if (loops.some((loop) => loop === undefined)) throw new Error(`the workspace and scratch of ${dir} are not mounted from loop devices`);
    return loops as LoopRef[];
  };

  /** Unmounts a prepared pair, detaches its loop devices and removes its directory (and images). */
  const removePair = async (tools: HostTools, pair: PreparedPair): Promise<void> => {
    try {
      await releaseMounts(tools, pair.dir, pair.loops, backgroundShell);
      await removeSandboxDir(pair.dir);
    } catch (error) {
      logger?.warn({ dir: pair.dir, err: error }, 'cannot remove a prepared sandbox image pair');
    }
  };

  /** Removes a pair in the background; close() waits for it. Resolves when it is gone. */
  const removePairLater = (tools: HostTools, pair: PreparedPair): Promise<void> => {
    const removal = removePair(tools, pair).finally(() => poolRemovals.delete(removal));
    poolRemovals.add(removal);
    return removal;
  };

  /** Formats and mounts one image pair (owned by root until a sandbox takes it) in a pool directory. */
  const preparePair = async (tools: HostTools, key: string, diskMb: number, scratchMb: number): Promise<PreparedPair> => {
    const dir = path.join(rootDir, `${POOL_PREFIX}${process.pid}-${poolSequence++}`);
    await mkdir(dir, { mode: 0o700 });
    try {
      await Promise.all([mkdir(path.join(dir, 'workspace')), mkdir(path.join(dir, 'scratch'))]);
      return { dir, key, loops: await mountExt4(tools, dir, 0, diskMb, scratchMb, backgroundShell) };
    } catch (error) {
      await removePair(tools, { dir, key, loops: [] });
      throw error;
    }
  };

  /** Takes a prepared pair of a size whose loop devices are still bound to its images. */
  const takePair = async (tools: HostTools, key: string): Promise<PreparedPair | undefined> => {
    for (;;) {
      const pair = pairPool.take(key);
      if (pair === undefined) return undefined;
      const intact = (await Promise.all(pair.loops.map(async (loop) => (await loopBackingFile(loop.sysfs)) === loop.image))).every(Boolean);
      if (intact) return pair;
      removePairLater(tools, pair);
    }
  };

  /** Gives a pair just moved to a sandbox's directory to the sandbox uid; returns its loop devices. */
  const adoptPair = async (pair: PreparedPair, dir: string, uid: number): Promise<LoopRef[]> => {
    const realDir = path.join(realRootDir, path.basename(dir));
    await Promise.all([chown(path.join(dir, 'workspace'), uid, uid), chown(path.join(dir, 'scratch'), uid, uid)]);
    return pair.loops.map((loop) => ({ ...loop, image: path.join(realDir, path.basename(loop.image)) }));
  };

  /** Creates home, tmp and shm on the scratch filesystem. */
  const layoutScratch = async (scratch: string, uid: number): Promise<void> => {
    const owned = async (name: string, mode: number): Promise<void> => {
      const sub = path.join(scratch, name);
      await mkdir(sub);
      await chmod(sub, mode);
      await chown(sub, uid, uid);
    };
    // Hangar's own files: root-owned, so the sandbox user cannot change them, and outside the
    // directories bound inside.
    const hangarDir = path.join(scratch, HANGAR_SCRATCH_DIR);
    await mkdir(hangarDir, { mode: 0o755 });
    const contents = generatedEtcContents({ uid: INSIDE_ID, home: HOME_PATH, hostname: SANDBOX_HOSTNAME });
    await Promise.all([
      owned('home', 0o700),
      owned('tmp', 0o1777),
      owned('shm', 0o1777),
      mkdir(path.join(hangarDir, 'launch'), { mode: 0o755 }),
      writeFile(path.join(hangarDir, 'cmdline'), `${SANDBOX_HOSTNAME}\n`, { mode: 0o644 }),
      writeFile(path.join(hangarDir, 'empty'), '', { mode: 0o444 }),
      ...GENERATED_ETC_FILES.map((name) => writeFile(path.join(hangarDir, name), contents[name], { mode: 0o644 })),
    ]);
  };

  /** Removes everything a sandbox made on the host; keeps going after errors and reports them together. */
  const teardownHost = async (tools: HostTools, sandbox: LocalSandboxImpl): Promise<void> => {
    const problems: string[] = [];
    const children = sandbox.killChildren();
    let cgroupGone = false;
    try {
      await sandbox.removeCgroup();
      cgroupGone = true;
    } catch (error) {
      problems.push((error as Error).message);
    }
    // The launchers are this process's children: wait (bounded) until they are reaped.
    await Promise.all(children.map((child) => waitForExit(child, 2000)));
    try {
      if (backing === 'ext4' && cgroupGone && closing === 0) {
        // Nothing of the sandbox runs any more. Unmounting ext4 images and freeing their loop
        // devices takes the kernel ~8 ms, so the directory moves out of the way (its mounts move
        // with it) under a pool name, and is released in the background: close() waits for it, and
        // the orphan sweep removes it if this process dies first.
        const released = path.join(rootDir, `${POOL_PREFIX}${process.pid}-${poolSequence++}`);
        await rename(sandbox.hostDir, released);
        sandbox.releasedDir = released;
        sandbox.released = removePairLater(tools, { dir: released, key: '', loops: [...sandbox.loops] });
      } else {
        await releaseMounts(tools, sandbox.hostDir, sandbox.loops);
        await removeSandboxDir(sandbox.hostDir);
      }
    } catch (error) {
      problems.push(`cannot remove ${sandbox.hostDir}: ${(error as Error).message}`);
    }
    live.delete(sandbox.id);
    reservedIds.delete(sandbox.id);
    // A uid whose processes may survive is never handed out again by this process.
    if (cgroupGone) {
      await uids.release(sandbox.hostUid);
      pidsBudget.release(sandbox.id);
    }
    if (problems.length > 0) {
      logger?.warn({ sandboxId: sandbox.id, problems }, 'sandbox teardown incomplete');
      throw failed(`sandbox ${sandbox.id} teardown incomplete: ${problems.join('; ')}`, undefined, { problems });
    }
    logger?.debug({ sandboxId: sandbox.id }, 'sandbox destroyed');
  };

  const closingError = (id?: string): HangarError =>
    unavailable(id === undefined ? 'the sandbox provider is closing' : `the sandbox provider closed while sandbox ${id} was being created`);

  /** Creates a sandbox; a `background` one (the warm pool's) gets CPU only when running sandboxes leave some. */
  const createSandbox = async (spec: SandboxSpec, background = false): Promise<LocalSandboxImpl> => {
    validateSpec(spec);
    if (closing > 0) throw closingError();
    const tools = await ensureTools();
    await checkSpecHostPaths(spec);
    const id = spec.id ?? newSandboxId('sbx');
    if (live.has(id) || reservedIds.has(id)) throw new HangarError('CONFLICT', `sandbox ${id} already exists`);
    reservedIds.add(id);
    const dir = path.join(rootDir, id);
    const undo: Array<() => Promise<unknown>> = [];
    try {
      pidsBudget.reserve(id, spec.resources.pids);
      undo.push(async () => pidsBudget.release(id));
      const uid = await uids.allocate(id);
      undo.push(() => uids.release(uid));
      try {
        await mkdir(dir, { mode: 0o700 });
      } catch (error) {
        if (errnoOf(error) === 'EEXIST') throw new HangarError('CONFLICT', `sandbox directory ${dir} already exists`, { cause: error });
        throw error;
      }
      undo.push(() => removeSandboxDir(dir));
      const workspace = path.join(dir, 'workspace');
      const scratch = path.join(dir, 'scratch');
      const scratchMb = settings.scratchMb ?? spec.resources.diskMb;
      const sizeKey = `${spec.resources.diskMb}:${scratchMb}`;
      let pair = backing === 'ext4' ? await takePair(tools, sizeKey) : undefined;
      undo.push(() => releaseMounts(tools, dir, undefined));
      let loops: LoopRef[] = [];
      if (pair !== undefined) {
        try {
          // Replaces the empty sandbox directory; the pair's mounts move with it.
          await rename(pair.dir, dir);
        } catch (error) {
          logger?.warn({ dir: pair.dir, err: error }, 'cannot move a prepared image pair; formatting new images');
          removePairLater(tools, pair);
          pair = undefined;
        }
      }
      if (pair !== undefined) loops = await adoptPair(pair, dir, uid);
      await Promise.all([
        chown(dir, uid, uid),
        chmod(dir, 0o700),
        ...(pair === undefined ? [mkdir(workspace), mkdir(scratch)] : []),
      ]);
      const mounted = async (): Promise<void> => {
        if (backing === 'ext4') loops = pair !== undefined ? loops : await mountExt4(tools, dir, uid, spec.resources.diskMb, scratchMb);
        else await mountTmpfs(tools, dir, id, uid, spec.resources.diskMb, scratchMb);
        await layoutScratch(scratch, uid);
      };
      // The cgroups and the identity files are made while the filesystems are being mounted.
      const [cgroupResult, ...rest] = await Promise.allSettled([
        cgroups.create(id, { memoryBytes: Math.floor(spec.resources.memoryMb * MIB), cpus: spec.resources.cpus, pids: spec.resources.pids, background }),
        mounted(),
      ]);
      if (cgroupResult.status === 'fulfilled') {
        const made = cgroupResult.value;
        undo.push(() => made.remove());
      }
      if (cgroupResult.status === 'rejected') throw cgroupResult.reason;
      const cgroup = cgroupResult.value;
      for (const step of rest) if (step.status === 'rejected') throw step.reason;
      if (closing > 0) throw closingError(id);
      const sandbox = new LocalSandboxImpl(id, dir, uid, backing, loops, cgroup, tools, [...(spec.bridges ?? [])], [...(spec.readOnlyPaths ?? [])], pidsBudget, (target) =>
        teardownHost(tools, target),
      );
      live.set(id, sandbox);
      // Replaces the pair just used (or prepares the first ones), now that this create is done.
      if (backing === 'ext4') pairPool.want(sizeKey, { tools, diskMb: spec.resources.diskMb, scratchMb });
      logger?.debug({ sandboxId: id, uid, resources: spec.resources, backing, prepared: pair !== undefined }, 'sandbox created');
      return sandbox;
    } catch (error) {
      for (const step of undo.reverse()) await step().catch(() => undefined);
      reservedIds.delete(id);
      if (error instanceof HangarError) throw error;
      throw failed(`cannot create sandbox ${id}: ${(error as Error).message}`, error);
    }
  };

  /** Destroys of warm sandboxes nobody will use, while they run. */
  const warmDiscards = new Set<Promise<void>>();
  /** prewarm() calls waiting for the host checks before they start filling the pool. */
  const prewarmsStarting = new Set<Promise<void>>();

  /** Destroys a warm sandbox nobody will use, in the background. */
  const discardWarm = (sandbox: LocalSandboxImpl): void => {
    const discard = sandbox
      .destroy()
      .catch((error: unknown) => logger?.warn({ sandboxId: sandbox.id, err: error }, 'cannot destroy a warm sandbox'))
      .finally(() => warmDiscards.delete(discard));
    warmDiscards.add(discard);
  };

  /**
   * Takes a warm sandbox of the spec's shape whose launcher still waits and whose bound host paths
   * are still the same files, with the spec's limits applied; undefined when there is none.
   */
  const takeWarm = async (key: string, spec: SandboxSpec): Promise<LocalSandboxImpl | undefined> => {
    for (let entry = warmPool.take(key); entry !== undefined; entry = warmPool.take(key)) {
      const { sandbox } = entry;
      try {
        if (!sandbox.warmLauncherReady) throw new Error(`its launcher exited: ${sandbox.warmLauncherStderr.trim() || 'no output'}`);
        if ((await bindIdentities(spec)) !== entry.binds) throw new Error('a bridge socket or read-only path was replaced since it was made');
        // The asked limits, and a normal CPU weight instead of the pool's background one.
        await sandbox.setLimits(spec.resources);
        return sandbox;
      } catch (error) {
        logger?.warn({ sandboxId: sandbox.id, err: error }, 'a warm sandbox is not usable; destroying it');
        discardWarm(sandbox);
      }
    }
    return undefined;
  };

  const prewarm = (spec: SandboxSpec): void => {
    if (warmPoolSize === 0 || spec.id !== undefined || closing > 0) return;
    try {
      validateSpec(spec);
    } catch (error) {
      logger?.warn({ err: error }, 'cannot prewarm sandboxes of an invalid spec');
      return;
    }
    const starting = ensureTools()
      .then(
        (tools) => {
          if (tools.bash !== undefined && tools.env !== undefined) warmPool.want(shapeOf(spec, settings.scratchMb), poolSpec(spec));
        },
        (error: unknown) => logger?.warn({ err: error }, 'cannot prewarm sandboxes: this host cannot run them'),
      )
      .finally(() => prewarmsStarting.delete(starting));
    prewarmsStarting.add(starting);
  };

  /** A sandbox from the warm pool when the spec allows one (no id, bash and env(1) present), else a new one. */
  const createOrTakeWarm = async (spec: SandboxSpec): Promise<LocalSandbox> => {
    let refill: (() => void) | undefined;
    if (warmPoolSize > 0 && spec.id === undefined && closing === 0) {
      validateSpec(spec);
      const tools = await ensureTools();
      if (tools.bash !== undefined && tools.env !== undefined) {
        const key = shapeOf(spec, settings.scratchMb);
        refill = () => warmPool.want(key, poolSpec(spec));
        const taken = await takeWarm(key, spec);
        if (taken !== undefined) {
          refill();
          logger?.debug({ sandboxId: taken.id, resources: spec.resources }, 'sandbox taken from the warm pool');
          return taken;
        }
      }
    }
    // The pool refills once the sandbox asked for exists: it comes first for uids and the host's time.
    const sandbox = await createEvictingWarm(spec);
    refill?.();
    return sandbox;
  };

  /** createSandbox(); when warm sandboxes hold the last uids, one of them gives way. */
  const createEvictingWarm = async (spec: SandboxSpec): Promise<LocalSandboxImpl> => {
    try {
      return await createSandbox(spec);
    } catch (error) {
      const evicted = isUidsExhausted(error) || isPidsExhausted(error) ? evictWarm() : undefined;
      if (evicted === undefined) throw error;
      await evicted;
      return createSandbox(spec);
    }
  };

  /** Destroys one warm sandbox (of the least recently used shape) to free what it holds; undefined when the pool is empty. */
  const evictWarm = (): Promise<void> | undefined => {
    const entry = warmPool.takeAny();
    if (entry === undefined) return undefined;
    logger?.debug({ sandboxId: entry.sandbox.id }, 'warm sandbox destroyed to free its uid and pids');
    return entry.sandbox.destroy().catch((error: unknown) => logger?.warn({ sandboxId: entry.sandbox.id, err: error }, 'cannot destroy a warm sandbox'));
  };

  const create = (spec: SandboxSpec): Promise<LocalSandbox> => {
    const pending = createOrTakeWarm(spec);
    inFlight.add(pending);
    const forget = (): void => {
      inFlight.delete(pending);
    };
    pending.then(forget, forget);
    return pending;
  };

  const close = async (): Promise<void> => {
    closing += 1;
    try {
      // Creates in flight settle first: each one that finishes now undoes its work and fails, so
      // no sandbox appears after the destroy below.
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      // Warm sandboxes and prepared image pairs go too; the pools refill on the next create().
      await Promise.allSettled([...prewarmsStarting]);
      await warmPool.filling;
      // The warm sandboxes are live ones: the destroy below takes them.
      warmPool.clear();
      await Promise.allSettled([...warmDiscards]);
      await pairPool.filling;
      const tools = toolsPromise === undefined ? undefined : await toolsPromise.catch(() => undefined);
      const pairs = pairPool.clear();
      if (tools !== undefined) for (const pair of pairs) removePairLater(tools, pair);
      await Promise.all([...poolRemovals]);
      const results = await Promise.allSettled([...live.values()].map((sandbox) => sandbox.destroy()));
      hostShell.close();
      backgroundShell.close();
      const failures = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failures.length > 0) throw failed(`${failures.length} sandbox(es) could not be destroyed`, failures[0]?.reason);
    } finally {
      closing -= 1;
    }
  };

  const settled = async (): Promise<void> => {
    for (;;) {
      const running = [...prewarmsStarting, warmPool.filling, pairPool.filling, ...poolRemovals, ...warmDiscards].filter((work): work is Promise<void> => work !== undefined);
      if (running.length === 0) return;
      // Work finishing may have started more (a warm sandbox takes an image pair, whose pool refills).
      await Promise.allSettled(running);
    }
  };

  return {
    name: 'local',
    create,
    prewarm,
    checkHost: async () => {
      await ensureTools();
    },
    close,
    settled,
    get warmSandboxes() {
      return warmPool.count;
    },
  };
}
