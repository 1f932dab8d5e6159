// Launchers: launch chains started before their command is known. A launcher runs the cgroup join,
// setpriv, bubblewrap's namespaces and mounts and the bridges, up to a bash (no startup files) that
// waits for one line on its stdin. A hand-off then writes the command, its arguments, environment and
// working directory NUL-separated to the launcher's own root-owned spec file (read-only inside, at
// LAUNCH_DIR) and sends the line. bash reads the file; when a directory is to be copied in, it makes
// it under /tmp and unpacks into it, as the sandbox user, the tar stream the host sends on fd 4; then
// it execs the command through `env -i`, so the command keeps the launcher's pid and stdio pipes.
// A warm sandbox's first launcher is started ahead of need (prelaunch()); a spawn with a directory to
// copy in takes a new one.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants as fsConstants, lstatSync, openSync, writeSync, type Stats } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { SandboxBridge, SandboxSpawnRequest } from '../../../sandbox-provider.js';
import { failed, invalid, unavailable } from '../errors.js';
import type { HostTools } from '../host/host-tools.js';
import { bridgePrelude } from '../isolation/bridge-prelude.js';
import { environmentArgs, launcherScript, launcherSpec, NO_STARTUP_FILES } from '../isolation/launcher-script.js';
import { LAUNCH_DIR, WORKSPACE_PATH } from '../layout.js';
import { isRunningChild } from './children.js';
import type { LaunchChain } from './launch-chain.js';

/** Names a directory the Agent SDK makes for a resumed transcript (copied into the sandbox's /tmp). */
const COPY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** A launcher waiting for its command. */
interface Launcher {
  child: ChildProcess;
  /** Host path of the root-owned file handOff() writes the launch to (LAUNCH_DIR/<name> inside). */
  specFile: string;
  /** stderr written before a spawn took the launcher (the last 4 KiB). */
  earlyStderr: string;
  /** The spawn request's stderr receiver, once one took the launcher. */
  onStderr: ((chunk: string) => void) | undefined;
}

/** A host directory copied into the sandbox's /tmp under the same name (see checkCopyIntoTmp()). */
export interface CopyIntoTmp {
  hostPath: string;
  name: string;
}

/**
 * Checks a directory to copy into a sandbox: a real directory (not a link) directly under the host's
 * /tmp, with a plain name, owned by this (root) process, so no sandbox can have written to it.
 */
export function checkCopyIntoTmp(hostPath: string): CopyIntoTmp {
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
  if (info.uid !== (process.getuid?.() ?? 0))
    throw invalid(`copyIntoTmp ${hostPath} is owned by uid ${info.uid}, not by Hangar: refusing to copy what another user may change`);
  return { hostPath, name };
}

/** What launchers need of their sandbox. */
export interface LauncherSandbox {
  id: string;
  tools: HostTools;
  bridges: readonly SandboxBridge[];
  /** Host directory of the spec files (launchSpecDir()). */
  specDir: string;
  assertLive(): void;
  /** Checks a launch request; its complete environment and working directory. */
  checkLaunch(request: SandboxSpawnRequest): { env: Record<string, string>; cwd: string };
}

/** The launchers of one sandbox: the warm one started ahead of the first spawn, and those of copies. */
export class Launchers {
  /** The launcher started ahead of the first spawn(), until that spawn uses or stops it. */
  private warm: Launcher | undefined;
  /** Names each launcher's spec file. */
  private sequence = 0;

  constructor(
    private readonly chain: LaunchChain,
    private readonly sandbox: LauncherSandbox,
  ) {}

  /** True while the launcher started ahead of need runs and waits for its command. */
  get warmReady(): boolean {
    return this.warm !== undefined && isRunningChild(this.warm.child);
  }

  /** What the warm launcher wrote to stderr before a spawn took it (why it failed, when it did). */
  get warmStderr(): string {
    return this.warm?.earlyStderr ?? '';
  }

  /** Starts the launcher of the first spawn ahead of need; does nothing without bash and env(1), or when one waits. */
  prelaunch(): void {
    const { tools } = this.sandbox;
    if (tools.bash === undefined || tools.env === undefined || this.warm !== undefined) return;
    this.warm = this.start();
  }

  /** Forgets the warm launcher (its process is being killed). */
  forgetWarm(): void {
    this.warm = undefined;
  }

  /**
   * Starts a spawn request through a launcher when one serves it: the warm one (unless the request is
   * auxiliary), or a new one when a directory is to be copied in. Undefined: launch it plainly.
   */
  spawn(request: SandboxSpawnRequest, copyIn: CopyIntoTmp | undefined): ChildProcess | undefined {
    const warm = request.auxiliary === true ? undefined : this.warm;
    if (warm !== undefined) this.warm = undefined;
    let child = warm === undefined ? undefined : this.handOffOrStop(warm, request, copyIn);
    // A directory to copy in travels through a launcher's copy stream: a new launcher takes it.
    if (child === undefined && copyIn !== undefined) {
      child = this.handOffOrStop(this.start(), request, copyIn);
      if (child === undefined) throw failed(`cannot start ${request.command} in sandbox ${this.sandbox.id}: its launcher exited at once`);
    }
    return child;
  }

  /** Starts a launcher (see the file header). */
  private start(): Launcher {
    const { sandbox } = this;
    sandbox.assertLive();
    const { bash, env: envTool, tar } = sandbox.tools;
    if (bash === undefined || envTool === undefined)
      throw unavailable('bash and env(1) are needed to launch a process with a copied directory: apt-get install bash coreutils');
    const specName = `spec-${this.sequence++}`;
    const script = launcherScript({ prelude: bridgePrelude(sandbox.tools, sandbox.bridges), specPath: `${LAUNCH_DIR}/${specName}`, tar, env: envTool });
    const child = this.chain.start({
      bwrapArgs: ['--ro-bind', sandbox.specDir, LAUNCH_DIR],
      argsData: environmentArgs({}),
      cwd: WORKSPACE_PATH,
      command: [bash, ...NO_STARTUP_FILES, '-c', script, 'hangar-launcher'],
      stdin: 'pipe',
      copyStream: true,
    });
    const specFile = path.join(sandbox.specDir, specName);
    const launcher: Launcher = { child, specFile, earlyStderr: '', onStderr: undefined };
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
  private handOffOrStop(launcher: Launcher, request: SandboxSpawnRequest, copyIn: CopyIntoTmp | undefined): ChildProcess | undefined {
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
  private handOff(launcher: Launcher, request: SandboxSpawnRequest, copyIn: CopyIntoTmp | undefined): ChildProcess | undefined {
    const { env, cwd } = this.sandbox.checkLaunch(request);
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
      else sendCopy(this.sandbox.tools.tar, copyIn, copyStream, onStderr);
    }
    launcher.child.stdin?.write('\n');
    return launcher.child;
  }
}

/** Streams a tar of a host directory (made by a root tar on the host) into a launcher's copy stream. */
function sendCopy(tarProgram: string, copyIn: CopyIntoTmp, into: Writable, onStderr: (chunk: string) => void): void {
  const tar = spawn(tarProgram, ['-c', '-f', '-', '-C', copyIn.hostPath, '--numeric-owner', '--exclude=./.credentials.json', '.'], {
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
