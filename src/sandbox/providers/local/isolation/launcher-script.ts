// The scripts and data of a launch chain (pure): the root shell that joins the sandbox's cgroups,
// the command run inside (behind the bridge prelude when there are bridges), the warm launcher's
// bash script, and the NUL-separated data that carry environments and launch specs (never argv).
import type { SandboxBridge } from '../../../sandbox-provider.js';
import { shellQuote } from '../../../host-shell.js';
import type { HostTools } from '../host/host-tools.js';
import { bridgePrelude, type BridgeTools } from './bridge-prelude.js';

/**
 * bash options for every shell Hangar starts in a sandbox: no ~/.bashrc (bash sources it when its
 * stdin is a socket, as Node's stdio pipes are), no profile files.
 */
export const NO_STARTUP_FILES: readonly string[] = ['--norc', '--noprofile'];

/** Each string followed by a NUL byte (bwrap's --args format, bash's `mapfile -d ''`). */
export function nulSeparated(values: readonly string[]): Buffer {
  return Buffer.from(values.map((value) => `${value}\0`).join(''));
}

/** bubblewrap's --args data for an environment: cleared, then each variable set. */
export function environmentArgs(env: Readonly<Record<string, string>>): Buffer {
  const args = ['--clearenv'];
  for (const [name, value] of Object.entries(env)) args.push('--setenv', name, value);
  return nulSeparated(args);
}

/**
 * The script of the root shell starting a launch chain: it writes its pid to each cgroup.procs file
 * (so everything it execs is in the sandbox's cgroups), makes itself the OOM killer's first pick (a
 * sandbox cannot lower that: it needs CAP_SYS_RESOURCE), then execs its arguments.
 */
export function cgroupJoinScript(procsFiles: readonly string[]): string {
  const joinCgroups = procsFiles.map((file) => `echo $$ > ${shellQuote(file)}`).join(' && ');
  return `${joinCgroups} || exit 125\necho 1000 > /proc/self/oom_score_adj || exit 125\nexec "$@"`;
}

/** The shell of a launch script, never reading startup files (bash would source ~/.bashrc with a socket on stdin). */
export function scriptShell(tools: Pick<HostTools, 'sh' | 'bash'>): string[] {
  return tools.bash === undefined ? [tools.sh] : [tools.bash, ...NO_STARTUP_FILES];
}

/** The command bubblewrap runs for a launch: the command itself, or with bridges a shell running the prelude first. */
export function launchCommand(
  tools: BridgeTools & Pick<HostTools, 'sh'>,
  bridges: readonly SandboxBridge[],
  command: string,
  args: readonly string[],
): string[] {
  if (bridges.length === 0) return [command, ...args];
  return [...scriptShell(tools), '-c', [...bridgePrelude(tools, bridges), 'exec "$@"'].join('\n'), 'hangar-bridges', command, ...args];
}

/**
 * The bash script of a warm launcher (see launch/warm-launcher.ts): after the bridge prelude it waits
 * for one line on stdin, reads the launch spec (launcherSpec()) from `specPath`, makes the directory
 * to copy in under /tmp and unpacks the tar stream of fd 4 into it when the spec names one, changes
 * to the spec's working directory and execs the command through `env -i` with the spec's environment.
 */
export function launcherScript(options: { prelude: readonly string[]; specPath: string; tar: string; env: string }): string {
  return [
    ...options.prelude,
    'IFS= read -r __hangar_go || exit 125',
    `mapfile -d '' -t __hangar_launch < ${shellQuote(options.specPath)} || exit 125`,
    'if [ -n "${__hangar_launch[1]}" ]; then',
    `  { mkdir -m 700 -- "/tmp/\${__hangar_launch[1]}" && ${shellQuote(options.tar)} -x -f - -C "/tmp/\${__hangar_launch[1]}" <&4; } ||`,
    '    { echo "hangar: cannot copy /tmp/${__hangar_launch[1]} into the sandbox" >&2; exit 125; }',
    'fi',
    'exec 4<&-',
    '__hangar_envc=${__hangar_launch[2]}',
    'cd -- "${__hangar_launch[0]}" || exit 125',
    `exec ${shellQuote(options.env)} -i -- "\${__hangar_launch[@]:3:__hangar_envc}" "\${__hangar_launch[@]:3+__hangar_envc}"`,
  ].join('\n');
}

/** What a warm launcher runs: working directory, directory to copy in ('' for none), environment, command. */
export function launcherSpec(options: {
  cwd: string;
  copyName: string | undefined;
  env: Readonly<Record<string, string>>;
  command: string;
  args: readonly string[];
}): Buffer {
  const entries = Object.entries(options.env).map(([name, value]) => `${name}=${value}`);
  return nulSeparated([options.cwd, options.copyName ?? '', String(entries.length), ...entries, options.command, ...options.args]);
}
