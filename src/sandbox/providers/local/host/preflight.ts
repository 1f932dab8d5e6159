// The host checks of the local provider, run once before the first sandbox (again after a failure):
// root, the programs launches use (HostTools), user namespaces, cgroups, a reachable rootDir, and a
// probe that runs a minimal sandbox with the very setpriv and bwrap arguments of every launch.
import { execFile } from 'node:child_process';
import type { Stats } from 'node:fs';
import { chmod, lstat, mkdir, readFile, readlink, realpath, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { favorDynamicModifications } from '../../../cgroups.js';
import { buildSeccompFilter, hostSeccompArch, type SeccompArch } from '../../../seccomp/index.js';
import type { ProviderContext } from '../context.js';
import { stderrOf, unavailable } from '../errors.js';
import { dropToSandboxArgv, probeBwrapArgs } from '../isolation/bwrap-args.js';
import { readHostEtcEntries, readMaskableProcFiles } from '../isolation/etc-files.js';
import { sweepOrphans } from '../lifecycle/orphan-sweep.js';
import { findExecutable, isExecutable, type HostTools } from './host-tools.js';

const execFileAsync = promisify(execFile);
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

/** The host check of one provider: run on first need, kept once it passed. */
export class HostCheck {
  private tools: Promise<HostTools> | undefined;

  constructor(private readonly ctx: ProviderContext) {}

  /** The host's tools, checking the host first when no check passed yet (a failed check is not kept). */
  ensure(): Promise<HostTools> {
    this.tools ??= preflight(this.ctx).catch((error: unknown) => {
      // Not cached: the next create() checks the host again.
      this.tools = undefined;
      throw error;
    });
    return this.tools;
  }

  /** The tools of the check that passed or is running, undefined when there is none or it failed. */
  async current(): Promise<HostTools | undefined> {
    return this.tools === undefined ? undefined : this.tools.catch(() => undefined);
  }
}

async function readSysctl(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

async function checkRootDirReachable(rootDir: string): Promise<void> {
  await mkdir(rootDir, { recursive: true, mode: 0o711 });
  await chmod(rootDir, 0o711);
  // bubblewrap runs as the sandbox uid and must traverse every ancestor to bind the sandbox dirs.
  for (let dir = path.dirname(rootDir); ; dir = path.dirname(dir)) {
    const mode = (await stat(dir)).mode;
    if ((mode & 0o001) === 0) {
      throw unavailable(
        `sandbox rootDir ${rootDir} is not reachable by unprivileged uids: ${dir} lacks the o+x permission (chmod o+x ${dir}, or choose another rootDir)`,
      );
    }
    if (dir === '/') break;
  }
}

/** bwrap arguments making the system paths visible: directories bound read-only, symlinks recreated, missing ones skipped. */
async function systemPathArgs(systemPaths: readonly string[]): Promise<{ args: string[]; binds: string[] }> {
  const args: string[] = [];
  const binds: string[] = [];
  for (const systemPath of systemPaths) {
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
}

/** Runs a minimal sandbox once, so a host that cannot isolate fails here with a clear message. */
async function probe(tools: HostTools, probeUid: number): Promise<void> {
  const argv = dropToSandboxArgv({
    bwrap: tools.bwrap,
    uid: probeUid,
    bwrapArgs: probeBwrapArgs(tools.systemArgs),
    cwd: '/',
    command: [tools.sh, '-c', 'exit 0'],
  });
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
}

/**
 * Checks that this host can run sandboxes (root, the programs, user namespaces, cgroups, rootDir),
 * finds what launches use, runs the probe, and sweeps what crashed Hangar processes left.
 */
async function preflight(ctx: ProviderContext): Promise<HostTools> {
  const { settings, logger, cgroups, hostShell } = ctx;
  const { rootDir, uidLockDir, workspaceBacking: backing } = settings;
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
    if (found.mkfsExt4 === undefined)
      missing.push('mkfs.ext4 not found (ext4 workspaces): install it with `apt-get install e2fsprogs`, or set workspaceBacking to tmpfs');
    if (found.losetup === undefined)
      missing.push('losetup not found (ext4 workspaces): install it with `apt-get install mount`, or set workspaceBacking to tmpfs');
    if (
      !(await stat('/dev/loop-control').then(
        () => true,
        () => false,
      ))
    ) {
      missing.push('/dev/loop-control not found (ext4 workspaces need loop devices): run `modprobe loop`, or set workspaceBacking to tmpfs');
    }
  }
  const seccompArch = hostSeccompArch();
  if (seccompArch === undefined)
    missing.push(`no seccomp filter is built for the ${process.arch} architecture: local sandboxes run on x86_64 and aarch64 hosts`);
  if (missing.length > 0) throw unavailable(missing.join('; '));

  if ((await readSysctl('/proc/sys/user/max_user_namespaces')) === '0') {
    throw unavailable('user namespaces are disabled: enable them with `sysctl -w user.max_user_namespaces=15000`');
  }
  if ((await readSysctl('/proc/sys/kernel/unprivileged_userns_clone')) === '0') {
    throw unavailable('unprivileged user namespaces are disabled: enable them with `sysctl -w kernel.unprivileged_userns_clone=1`');
  }
  if ((await readSysctl('/proc/sys/kernel/apparmor_restrict_unprivileged_userns')) === '1') {
    throw unavailable(
      'AppArmor restricts unprivileged user namespaces: run `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` or install an AppArmor profile for bwrap',
    );
  }
  await cgroups.prepare();
  if (settings.favorDynamicCgroups) {
    const mountProgram = found.mount as string;
    const outcome = await favorDynamicModifications({ mount: (args) => hostShell.run(mountProgram, args) });
    if (outcome.state === 'unavailable') {
      logger?.warn({ reason: outcome.reason }, 'cannot mount a cgroup hierarchy with favordynmods: each launch in a sandbox may wait ~20 ms for the kernel');
    }
  }
  await checkRootDirReachable(rootDir);
  ctx.state.realRootDir = await realpath(rootDir);
  if (backing === 'ext4') {
    const fsType = (await statfs(rootDir)).type;
    if (fsType === TMPFS_MAGIC || fsType === RAMFS_MAGIC) {
      logger?.warn({ rootDir }, 'sandbox rootDir is on tmpfs: ext4 workspace images there count toward memory like a tmpfs workspace; put rootDir on a disk');
    }
  }
  await mkdir(uidLockDir, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
    throw unavailable(`cannot create the uid reservation directory ${uidLockDir}: ${(error as Error).message}`, error);
  });
  const system = await systemPathArgs(settings.readOnlySystemPaths);
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
  await probe(tools, settings.uidRangeStart + settings.uidRangeSize - 1);
  await sweepOrphans(ctx, tools);
  logger?.debug({ tools: { bwrap: tools.bwrap, socat: tools.socat, setpriv: tools.setpriv }, rootDir }, 'local sandbox provider ready');
  return tools;
}
