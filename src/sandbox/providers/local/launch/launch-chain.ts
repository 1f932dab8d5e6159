// Starting processes in one sandbox. Each spawn/exec is one bubblewrap invocation, launched as:
//   /bin/sh -c 'echo $$ > <cgroup.procs>...; exec "$@"'   (root: joins the cgroups, then execs)
//     setpriv --reuid=U --regid=G ... --no-new-privs      (drops to the sandbox's host uid)
//       bwrap --args 3 --seccomp 5 ... -- command         (fd 3: --clearenv/--setenv pairs; fd 5: seccomp)
// so every process of the sandbox is in its cgroups, runs as an unprivileged host uid, and the
// environment never appears in a host process's argv or in a root process's environment. The
// arguments and scripts are the pure builders of ../isolation/.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import type { SandboxBridge, SandboxSpawnRequest } from '../../../sandbox-provider.js';
import type { HostTools } from '../host/host-tools.js';
import { dropToSandboxArgv } from '../isolation/bwrap-args.js';
import { cgroupJoinScript, environmentArgs, launchCommand } from '../isolation/launcher-script.js';

/** One launch chain to start. */
export interface ChainOptions {
  /** bubblewrap arguments of this launch only (after the sandbox's own). */
  bwrapArgs: string[];
  /** NUL-separated arguments bubblewrap reads from fd 3 (the environment). */
  argsData: Buffer;
  cwd: string;
  command: string[];
  stdin: 'pipe' | 'ignore';
  /** A pipe on fd 4 (launchers): the tar stream of a directory to copy in. */
  copyStream?: boolean;
}

/** Starts the launch chains of one sandbox and keeps their outer processes until they exit. */
export class LaunchChain {
  /** The outer processes of the chains running now. */
  readonly children = new Set<ChildProcess>();

  constructor(
    private readonly sandbox: {
      tools: HostTools;
      uid: number;
      /** The cgroup.procs files the chain's root shell joins. */
      procsFiles: readonly string[];
      /** bubblewrap arguments of every launch in the sandbox (sandboxBwrapArgs()). */
      bwrapArgs: readonly string[];
      bridges: readonly SandboxBridge[];
    },
  ) {}

  /** PIDs of the outer processes running now. */
  launchedPids(): Set<number> {
    return new Set([...this.children].map((child) => child.pid).filter((pid): pid is number => pid !== undefined));
  }

  /**
   * Starts one command (behind the bridge prelude when the sandbox has bridges) with `env`, which
   * travels through fd 3 and nothing else. stderr goes to request.onStderr unless `collecting` (the
   * caller reads it); it is always drained so a chatty process never blocks on a full pipe.
   */
  launch(request: SandboxSpawnRequest, checked: { env: Record<string, string>; cwd: string }, stdin: 'pipe' | 'ignore', collecting = false): ChildProcess {
    const { tools, bridges } = this.sandbox;
    const command = launchCommand(tools, bridges, request.command, request.args);
    const child = this.start({ bwrapArgs: [], argsData: environmentArgs(checked.env), cwd: checked.cwd, command, stdin });
    if (!collecting) {
      const onStderr = request.onStderr;
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => onStderr?.(chunk));
    }
    return child;
  }

  /**
   * Starts a launch chain: sh joins the cgroups, setpriv drops to the sandbox uid, bubblewrap reads
   * `argsData` from fd 3 and the seccomp filter from fd 5, sets up the namespaces and runs `command`.
   */
  start(options: ChainOptions): ChildProcess {
    const { tools } = this.sandbox;
    const argv = [
      '-c',
      cgroupJoinScript(this.sandbox.procsFiles),
      'hangar-sandbox',
      tools.setpriv,
      ...dropToSandboxArgv({
        bwrap: tools.bwrap,
        uid: this.sandbox.uid,
        descriptors: { args: 3, seccomp: 5 },
        bwrapArgs: [...this.sandbox.bwrapArgs, ...options.bwrapArgs],
        cwd: options.cwd,
        command: options.command,
      }),
    ];
    // fd 3: bwrap's arguments; fd 4 (launchers only): the tar stream of a directory to copy in;
    // fd 5: the seccomp filter bwrap installs right before it execs the command.
    const stdio: Array<'pipe' | 'ignore'> = [options.stdin, 'pipe', 'pipe', 'pipe', options.copyStream === true ? 'pipe' : 'ignore', 'pipe'];
    const child = spawn(tools.sh, argv, { env: {}, cwd: '/', stdio });
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
    seccompPipe?.end(tools.seccompFilter);
    return child;
  }

  /** Kills the outer process of every chain (their sandboxed processes die with them); returns them. */
  killAll(): ChildProcess[] {
    const children = [...this.children];
    for (const child of children) child.kill('SIGKILL');
    return children;
  }
}
