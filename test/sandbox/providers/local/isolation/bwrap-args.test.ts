// The setpriv and bubblewrap arguments of local sandboxes: pure builders, checked without root. Launches
// and the preflight probe share them, so the probe checks the isolation every launch gets.
import { describe, expect, it } from 'vitest';
import {
  dropToSandboxArgv,
  ISOLATION_ARGS,
  probeBwrapArgs,
  sandboxBwrapArgs,
  setprivArgs,
  type SandboxBwrapInput,
} from '../../../../../src/sandbox/providers/local/isolation/bwrap-args.js';

const tools: SandboxBwrapInput['tools'] = {
  systemArgs: ['--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin'],
  systemBinds: ['/usr'],
  etcEntries: [{ name: 'ssl', kind: 'bind' }],
  procMasks: ['/proc/kallsyms'],
  socat: '/usr/bin/socat',
  sleep: '/usr/bin/sleep',
  cat: '/usr/bin/cat',
  ss: '/opt/iproute/ss',
  bash: '/usr/bin/bash',
};

/** Where `sequence` starts in `args` (consecutive), or -1. */
function indexOfSequence(args: readonly string[], sequence: readonly string[]): number {
  for (let i = 0; i + sequence.length <= args.length; i += 1) if (sequence.every((value, j) => args[i + j] === value)) return i;
  return -1;
}

describe('local sandbox bwrap and setpriv arguments', () => {
  it('drops to the sandbox uid with no groups, no capabilities and no new privileges', () => {
    expect(setprivArgs(200_007)).toEqual([
      '--reuid=200007',
      '--regid=200007',
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--no-new-privs',
      '--',
    ]);
  });

  it('isolates with every namespace, the inside user 1000, no nested user namespaces and no capabilities', () => {
    for (const flag of ['--unshare-all', '--unshare-user', '--disable-userns', '--die-with-parent', '--new-session']) expect(ISOLATION_ARGS).toContain(flag);
    expect(indexOfSequence(ISOLATION_ARGS, ['--uid', '1000'])).toBeGreaterThanOrEqual(0);
    expect(indexOfSequence(ISOLATION_ARGS, ['--gid', '1000'])).toBeGreaterThanOrEqual(0);
    expect(indexOfSequence(ISOLATION_ARGS, ['--cap-drop', 'ALL'])).toBeGreaterThanOrEqual(0);
  });

  it('builds a sandbox from its own filesystems, the system paths and a generated /etc', () => {
    const args = sandboxBwrapArgs({ tools, hostDir: '/srv/sbx/a', readOnlyPaths: ['/opt/claude'], bridges: [] });
    expect(args.slice(0, ISOLATION_ARGS.length)).toEqual(ISOLATION_ARGS);
    expect(indexOfSequence(args, tools.systemArgs)).toBe(ISOLATION_ARGS.length);
    for (const bind of [
      ['--bind', '/srv/sbx/a/workspace', '/workspace'],
      ['--bind', '/srv/sbx/a/scratch/home', '/home/agent'],
      ['--bind', '/srv/sbx/a/scratch/tmp', '/tmp'],
      ['--bind', '/srv/sbx/a/scratch/shm', '/dev/shm'],
      ['--ro-bind', '/etc/ssl', '/etc/ssl'],
      ['--ro-bind', '/srv/sbx/a/scratch/hangar/passwd', '/etc/passwd'],
      ['--ro-bind', '/srv/sbx/a/scratch/hangar/cmdline', '/proc/cmdline'],
      ['--ro-bind', '/srv/sbx/a/scratch/hangar/empty', '/proc/kallsyms'],
      ['--ro-bind', '/opt/claude', '/opt/claude'],
    ]) {
      expect(indexOfSequence(args, bind), bind.join(' ')).toBeGreaterThan(0);
    }
    // The masks go over the fresh /proc, /dev/shm over the fresh /dev.
    expect(indexOfSequence(args, ['--proc', '/proc'])).toBeLessThan(args.indexOf('/proc/cmdline'));
    expect(indexOfSequence(args, ['--dev', '/dev'])).toBeLessThan(args.indexOf('/dev/shm'));
    // Without bridges, no socket and no bridge tool is bound.
    expect(args.join(' ')).not.toContain('/run/hangar');
    expect(args).not.toContain('/opt/iproute/ss');
  });

  it('binds bridge sockets and the bridge tools no system path shows', () => {
    const bridges = [{ name: 'gateway', hostSocketPath: '/run/hangar-host/gw.sock', port: 4100 }];
    const args = sandboxBwrapArgs({ tools, hostDir: '/srv/sbx/a', readOnlyPaths: [], bridges });
    expect(indexOfSequence(args, ['--ro-bind', '/run/hangar-host/gw.sock', '/run/hangar/gateway.sock'])).toBeGreaterThan(0);
    expect(indexOfSequence(args, ['--ro-bind', '/opt/iproute/ss', '/opt/iproute/ss'])).toBeGreaterThan(0);
    expect(args).not.toContain('/usr/bin/socat');
  });

  it('gives launches and the probe the same uid drop, isolation and read-only remounts, the command last', () => {
    const launch = dropToSandboxArgv({
      bwrap: '/usr/bin/bwrap',
      uid: 200_001,
      descriptors: { args: 3, seccomp: 5 },
      bwrapArgs: sandboxBwrapArgs({ tools, hostDir: '/srv/sbx/a', readOnlyPaths: [], bridges: [] }),
      cwd: '/workspace',
      command: ['claude', '--print'],
    });
    const probe = dropToSandboxArgv({
      bwrap: '/usr/bin/bwrap',
      uid: 209_999,
      bwrapArgs: probeBwrapArgs(tools.systemArgs),
      cwd: '/',
      command: ['/bin/sh', '-c', 'exit 0'],
    });
    for (const [argv, uid] of [
      [launch, 200_001],
      [probe, 209_999],
    ] as const) {
      const setpriv = setprivArgs(uid);
      expect(argv.slice(0, setpriv.length)).toEqual(setpriv);
      expect(argv[setpriv.length]).toBe('/usr/bin/bwrap');
      expect(indexOfSequence(argv, ISOLATION_ARGS)).toBeGreaterThan(setpriv.length);
      expect(indexOfSequence(argv, tools.systemArgs)).toBeGreaterThan(0);
      // Read-only / and /dev come after every bind, then the working directory and the command.
      const remounts = indexOfSequence(argv, ['--remount-ro', '/dev', '--remount-ro', '/', '--chdir']);
      expect(remounts).toBeGreaterThan(argv.lastIndexOf('--bind'));
      expect(remounts).toBeGreaterThan(argv.lastIndexOf('--ro-bind'));
      expect(argv.indexOf('--')).toBe(setpriv.length - 1);
    }
    expect(launch.slice(-3)).toEqual(['--', 'claude', '--print']);
    expect(indexOfSequence(launch, ['--args', '3', '--seccomp', '5'])).toBe(setprivArgs(0).length + 1);
    expect(probe).not.toContain('--args');
    expect(probe.slice(-4)).toEqual(['--', '/bin/sh', '-c', 'exit 0']);
  });
});
