// The seccomp filter in real bubblewrap sandboxes (root, x86_64): a python probe calls the refused
// system calls directly, once without the filter (to show each probe reaches the kernel) and once
// with it; then the tools sandboxes run (bash, tar, zstd, git, node, python, perl, socat) and the
// real Claude Code CLI start under the filter. bwrap runs as an unprivileged uid (setpriv), as the
// local provider runs it, and reads the filter from fd 3.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveBundledClaudeExecutable } from '../../src/runner/agent-runner.js';
import { buildSeccompFilter, hostSeccompArch } from '../../src/sandbox/seccomp/index.js';

const BWRAP = '/usr/bin/bwrap';
const SETPRIV = '/usr/bin/setpriv';
const PYTHON = '/usr/bin/python3';
const canRun =
  process.platform === 'linux' && process.getuid?.() === 0 && hostSeccompArch() === 'x86_64' && [BWRAP, SETPRIV, PYTHON].every((file) => existsSync(file));

// Each probe prints "ok" or the errno name; calls that may change the probe's own state run in a
// forked child, which reports "signal:N" when the filter kills it. Numbers are x86_64's.
const PROBE = String.raw`
import ctypes, errno, json, mmap, os, socket
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
L = ctypes.c_long
def name(code): return errno.errorcode.get(code, str(code))
def sys(nr, *args):
    return 'ok' if libc.syscall(L(nr), *[L(a) for a in args]) >= 0 else name(ctypes.get_errno())
def in_child(fn):
    pid = os.fork()
    if pid == 0:
        try: res = fn()
        except BaseException: os._exit(98)
        os._exit(0 if res == 'ok' else getattr(errno, res, 99))
    status = os.waitpid(pid, 0)[1]
    if os.WIFSIGNALED(status): return 'signal:%d' % os.WTERMSIG(status)
    return 'ok' if os.WEXITSTATUS(status) == 0 else name(os.WEXITSTATUS(status))
def sock(*args):
    try: socket.socket(*args).close(); return 'ok'
    except OSError as e: return name(e.errno)
def ptrace_pid1():
    res = sys(101, 16, 1, 0, 0)  # PTRACE_ATTACH to bwrap's init
    if res == 'ok':
        os.waitpid(1, 0x40000000)
        sys(101, 17, 1, 0, 0)  # PTRACE_DETACH
    return res
def clone_newuser():
    pid = libc.syscall(L(56), L(0x10000000 | 17), L(0), L(0), L(0), L(0))
    if pid == 0: os._exit(0)
    if pid < 0: return name(ctypes.get_errno())
    os.waitpid(pid, 0)
    return 'ok'
def i386_getpid():  # mov eax, 20; int 0x80; ret
    m = mmap.mmap(-1, 4096, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    m.write(b'\xb8\x14\x00\x00\x00\xcd\x80\xc3')
    return 'ok' if ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))() > 0 else 'EINVAL'
def fork():
    pid = os.fork()
    if pid == 0: os._exit(7)
    return 'ok' if os.WEXITSTATUS(os.waitpid(pid, 0)[1]) == 7 else 'EIO'
uring_params = ctypes.create_string_buffer(120)
print(json.dumps({
    'ptrace_attach_pid1': in_child(ptrace_pid1),
    'process_vm_readv': sys(310, 1, 0, 0, 0, 0, 0),
    'io_uring_setup': sys(425, 1, ctypes.addressof(uring_params)),
    'userfaultfd': sys(323, 1),
    'keyctl': sys(250, 0, -3, 0),
    'add_key': sys(248, 0, 0, 0, 0, -3),
    'bpf': sys(321, 0, 0, 0),
    'mount': in_child(lambda: sys(165, 0, 0, 0, 0, 0)),
    'unshare_user': in_child(lambda: sys(272, 0x10000000)),
    'clone_newuser': in_child(clone_newuser),
    'clone3': sys(435, 0, 0),
    'fork': fork(),
    'personality_no_aslr': in_child(lambda: sys(135, 0x40000)),
    'personality_query': sys(135, 0xffffffff),
    'tiocsti': sys(16, -1, 0x5412, 0),
    'open_by_handle_at': sys(304, -1, 0, 0),
    'netlink_audit': sock(16, socket.SOCK_RAW, 9),
    'netlink_audit_high_bits': sys(41, (1 << 32) | 16, 3, (1 << 32) | 9),
    'netlink_route': sock(16, socket.SOCK_RAW, 0),
    'unix': sock(socket.AF_UNIX, socket.SOCK_STREAM),
    'inet': sock(socket.AF_INET, socket.SOCK_STREAM),
    'syscall_minus_1': sys(-1),
    'x32_getpid': in_child(lambda: sys(0x40000000 | 39)),
    'i386_getpid': in_child(i386_getpid),
}))
`;

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `command` in a bwrap sandbox as an unprivileged host uid, with the filter on fd 3 when `filter` is given. */
function inSandbox(command: string[], options: { filter?: Buffer; binds?: string[] } = {}): Promise<Outcome> {
  const binds = (options.binds ?? []).flatMap((dir) => ['--ro-bind', dir, dir]);
  const bwrap = [
    BWRAP,
    '--unshare-all',
    '--unshare-user',
    '--uid',
    '1000',
    '--gid',
    '1000',
    '--die-with-parent',
    '--new-session',
    '--ro-bind',
    '/usr',
    '/usr',
    '--symlink',
    'usr/bin',
    '/bin',
    '--symlink',
    'usr/lib',
    '/lib',
    '--symlink',
    'usr/lib64',
    '/lib64',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--tmpfs',
    '/tmp',
    ...binds,
    '--chdir',
    '/tmp',
    '--clearenv',
    '--setenv',
    'PATH',
    '/usr/bin',
    '--setenv',
    'HOME',
    '/tmp',
    ...(options.filter === undefined ? [] : ['--seccomp', '3']),
    '--',
    ...command,
  ];
  const argv = ['--reuid=65534', '--regid=65534', '--clear-groups', '--no-new-privs', '--', ...bwrap];
  return new Promise((resolve, reject) => {
    const child = spawn(SETPRIV, argv, {
      env: {},
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe', options.filter === undefined ? 'ignore' : 'pipe'],
      timeout: 30_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const filterPipe = child.stdio[3];
    if (options.filter !== undefined && filterPipe !== null && filterPipe !== undefined && 'end' in filterPipe) {
      filterPipe.on('error', () => undefined);
      filterPipe.end(options.filter);
    }
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

async function probe(filter?: Buffer): Promise<Record<string, string>> {
  const outcome = await inSandbox([PYTHON, '-c', PROBE], { filter });
  expect(outcome.code, outcome.stderr).toBe(0);
  return JSON.parse(outcome.stdout) as Record<string, string>;
}

describe.runIf(canRun)('seccomp filter in a real bwrap sandbox', () => {
  const filter = buildSeccompFilter('x86_64');

  it('without the filter, the probes reach the kernel', async () => {
    const results = await probe();
    expect(results).toMatchObject({
      ptrace_attach_pid1: 'ok',
      clone3: 'EINVAL',
      tiocsti: 'EBADF',
      netlink_audit: 'ok',
      netlink_audit_high_bits: 'ok',
      unshare_user: 'ok',
      clone_newuser: 'ok',
      personality_no_aslr: 'ok',
      i386_getpid: 'ok',
    });
  });

  it('with the filter, the refused calls fail and the rest work', async () => {
    expect(await probe(filter)).toEqual({
      ptrace_attach_pid1: 'EPERM',
      process_vm_readv: 'EPERM',
      io_uring_setup: 'ENOSYS',
      userfaultfd: 'EPERM',
      keyctl: 'EPERM',
      add_key: 'EPERM',
      bpf: 'EPERM',
      mount: 'EPERM',
      unshare_user: 'EPERM',
      clone_newuser: 'EPERM',
      clone3: 'ENOSYS',
      fork: 'ok',
      personality_no_aslr: 'EPERM',
      personality_query: 'ok',
      tiocsti: 'EPERM',
      open_by_handle_at: 'EPERM',
      netlink_audit: 'EPERM',
      netlink_audit_high_bits: 'EPERM',
      netlink_route: 'ok',
      unix: 'ok',
      inet: 'ok',
      syscall_minus_1: 'ENOSYS',
      x32_getpid: 'signal:31',
      i386_getpid: 'signal:31',
    });
  });

  it('bash, tar, zstd, git, node, python, perl and socat work under the filter', async () => {
    const script = [
      'set -e',
      'echo hello > a && tar -cf - a | zstd -q > a.tar.zst && rm a && zstd -dc a.tar.zst | tar -xf - && cat a',
      'git init -q repo && git -C repo -c user.email=a@b -c user.name=a commit -q --allow-empty -m one && git -C repo rev-list --count HEAD',
      `node -e 'require("node:child_process").execFileSync("true"); require("node:fs").writeFileSync("n", "1"); console.log("node", process.versions.node.split(".")[0] > 0)'`,
      `python3 -c 'import subprocess, threading; t = threading.Thread(target=print, args=("thread",)); t.start(); t.join(); print(subprocess.run(["true"]).returncode)'`,
      `perl -e 'print "perl\\n"'`,
      'socat UNIX-LISTEN:/tmp/s - > got & for i in 1 2 3 4 5 6 7 8 9 10; do [ -S /tmp/s ] && break; sleep 0.05; done',
      'echo bridged | socat - UNIX-CONNECT:/tmp/s && wait && cat got',
    ].join('\n');
    const outcome = await inSandbox(['/usr/bin/bash', '--noprofile', '--norc', '-c', script], { filter });
    expect(outcome.stderr).toBe('');
    expect(outcome.stdout.trim().split('\n')).toEqual(['hello', '1', 'node true', 'thread', '0', 'perl', 'bridged']);
    expect(outcome.code).toBe(0);
  });

  it('the Claude Code CLI starts under the filter', async (context) => {
    let claude: string;
    try {
      claude = resolveBundledClaudeExecutable();
    } catch {
      context.skip();
      return;
    }
    const outcome = await inSandbox([claude, '--version'], { filter, binds: [path.dirname(claude)] });
    expect(outcome.code, outcome.stderr).toBe(0);
    expect(outcome.stdout).toMatch(/\(Claude Code\)/);
  });
});
