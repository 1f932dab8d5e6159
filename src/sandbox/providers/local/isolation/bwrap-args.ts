// The arguments of the two programs between root and a sandbox's command, as pure builders: setpriv
// drops to the sandbox's host uid, then bubblewrap makes the namespaces and the filesystem. Every
// launch (launch/launch-chain.ts) and the preflight probe (host/preflight.ts) use them, so the probe
// checks the very isolation launches get.
import path from 'node:path';
import type { SandboxBridge } from '../../../sandbox-provider.js';
import { etcArgs, procMaskArgs } from './etc-files.js';
import type { HostTools } from '../host/host-tools.js';
import { BRIDGE_DIR, givenFilePath, hangarFilesDir, HOME_PATH, INSIDE_ID, isUnder, mountPointsOf, SANDBOX_HOSTNAME, WORKSPACE_PATH } from '../layout.js';

/**
 * setpriv's arguments: become host uid `uid` (and gid of the same number) with no supplementary
 * groups, no inheritable or bounding capabilities and no_new_privs, then exec what follows. Dropping
 * before bwrap matters: bwrap run as root with --uid maps the sandbox user to host root.
 */
export function setprivArgs(uid: number): string[] {
  return [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--'];
}

/**
 * bubblewrap's namespaces and identity: every namespace new (the network one has loopback only), the
 * user INSIDE_ID inside, no nested user namespaces, no capabilities, gone with its parent, a session
 * of its own (no terminal injection), and its own host name.
 */
export const ISOLATION_ARGS: readonly string[] = [
  '--unshare-all',
  '--unshare-user',
  '--uid',
  String(INSIDE_ID),
  '--gid',
  String(INSIDE_ID),
  '--disable-userns',
  '--die-with-parent',
  '--new-session',
  '--cap-drop',
  'ALL',
  '--hostname',
  SANDBOX_HOSTNAME,
];

/** What a sandbox's bubblewrap arguments are made of. */
export interface SandboxBwrapInput {
  tools: Pick<HostTools, 'systemArgs' | 'systemBinds' | 'etcEntries' | 'procMasks' | 'socat' | 'sleep' | 'cat' | 'ss' | 'bash'>;
  /** The sandbox's host directory (workspace and scratch mounts, Hangar's files). */
  hostDir: string;
  readOnlyPaths: readonly string[];
  /** Paths inside of the spec's readOnlyFiles, in order (their copies are on the scratch filesystem). */
  givenFiles?: readonly string[];
  bridges: readonly SandboxBridge[];
}

/**
 * bubblewrap's arguments for every launch in a sandbox, before the per-launch ones: the namespaces,
 * the system paths, /etc and the /proc masks, /dev, the workspace, HOME, /tmp and /dev/shm from the
 * sandbox's own filesystems, the read-only paths, and for bridges their sockets (and the tools the
 * bridge prelude runs, when no system path shows them).
 */
export function sandboxBwrapArgs(input: SandboxBwrapInput): string[] {
  const { tools, hostDir, bridges } = input;
  const [workspace, scratch] = mountPointsOf(hostDir);
  const files = hangarFilesDir(hostDir);
  const args = [
    ...ISOLATION_ARGS,
    ...tools.systemArgs,
    ...etcArgs(tools.etcEntries, files),
    '--proc',
    '/proc',
    ...procMaskArgs(tools.procMasks, { cmdline: path.join(files, 'cmdline'), empty: path.join(files, 'empty') }),
    '--dev',
    '/dev',
    '--bind',
    path.join(scratch, 'shm'),
    '/dev/shm',
    '--bind',
    workspace,
    WORKSPACE_PATH,
    '--bind',
    path.join(scratch, 'home'),
    HOME_PATH,
    '--bind',
    path.join(scratch, 'tmp'),
    '/tmp',
  ];
  for (const readOnlyPath of input.readOnlyPaths) args.push('--ro-bind', readOnlyPath, readOnlyPath);
  (input.givenFiles ?? []).forEach((inside, index) => args.push('--ro-bind', givenFilePath(hostDir, index), inside));
  if (bridges.length > 0) {
    for (const tool of [tools.socat, tools.sleep, tools.cat, tools.ss, tools.bash]) {
      if (tool !== undefined && !tools.systemBinds.some((root) => isUnder(tool, root))) args.push('--ro-bind', tool, tool);
    }
    for (const bridge of bridges) args.push('--ro-bind', bridge.hostSocketPath, bridgeSocketPath(bridge));
  }
  return args;
}

/** Where a bridge's host socket is bound inside. */
export function bridgeSocketPath(bridge: Pick<SandboxBridge, 'name'>): string {
  return `${BRIDGE_DIR}/${bridge.name}.sock`;
}

/** bubblewrap's arguments for the preflight probe: the namespaces, the system paths, /proc and /dev. */
export function probeBwrapArgs(systemArgs: readonly string[]): string[] {
  return [...ISOLATION_ARGS, ...systemArgs, '--proc', '/proc', '--dev', '/dev'];
}

/** Descriptors bubblewrap reads from: its NUL-separated arguments (--args) and the seccomp program (--seccomp). */
export interface BwrapDescriptors {
  args: number;
  seccomp: number;
}

/**
 * The argv of setpriv (its program name excluded) for one launch: drop to `uid`, then bubblewrap
 * with `bwrapArgs`; / and /dev are remounted read-only after every bind, then `command` runs in `cwd`.
 */
export function dropToSandboxArgv(options: {
  bwrap: string;
  uid: number;
  descriptors?: BwrapDescriptors;
  bwrapArgs: readonly string[];
  cwd: string;
  command: readonly string[];
}): string[] {
  const { descriptors } = options;
  return [
    ...setprivArgs(options.uid),
    options.bwrap,
    ...(descriptors === undefined ? [] : ['--args', String(descriptors.args), '--seccomp', String(descriptors.seccomp)]),
    ...options.bwrapArgs,
    '--remount-ro',
    '/dev',
    '--remount-ro',
    '/',
    '--chdir',
    options.cwd,
    '--',
    ...options.command,
  ];
}
