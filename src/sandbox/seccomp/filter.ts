// The seccomp policy of a sandbox, and the classic BPF program that enforces it. bubblewrap
// installs the program (`--seccomp FD`) on the sandbox's pid 1 and on its command, right before
// exec and after no_new_privs; every process of the sandbox inherits it and cannot remove it.
//
// What the program does, in order:
//   1. Architecture: a call made through another ABI than the one the filter was built for (on
//      x86_64: 32-bit `int 0x80` calls, AUDIT_ARCH_I386) kills the process. Its numbers mean other
//      calls, so the table below would not apply to it.
//   2. x86_64 only: x32 ABI calls (number >= 0x40000000) kill the process, for the same reason;
//      number -1 (the kernel answers ENOSYS to it; tracers use it to skip a call) gets ENOSYS.
//   3. The calls below are refused; every other call is allowed (a deny list: the sandbox already
//      runs as an unprivileged uid with no capabilities in its own namespaces; this closes the
//      kernel interfaces that stay open to such a process, and those that let one sandbox process
//      hold or read another).
// Refused with EPERM ("not allowed", what a caller sees without the privilege):
//   ptrace, process_vm_readv/writev, pidfd_getfd: no process may trace, read, write or take
//     descriptors from another; attaching the sandbox's pid 1 and exiting held a task forever.
//     (Debuggers and strace do not work inside.)
//   userfaultfd: stalls kernel copies at chosen addresses, the usual helper of kernel exploits.
//   keyctl, add_key, request_key: the kernel keyring is not namespaced; nothing here needs it.
//   bpf, perf_event_open: large kernel attack surface; perf also observes the host's CPUs.
//   mount, umount2, pivot_root, open_tree, move_mount, fsopen, fsconfig, fsmount, fspick,
//     mount_setattr: the sandbox's mounts are bubblewrap's; nothing inside may change them.
//   unshare, setns: no new or other namespaces (user namespaces expose kernel code otherwise
//     reserved to root); `unshare` is refused whatever its flags.
//   clone with any CLONE_NEW* flag (NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET):
//     the same, through clone; fork, vfork and threads (no CLONE_NEW* flag) are allowed.
//   kexec_load, kexec_file_load, init_module, finit_module, delete_module, reboot, swapon,
//     swapoff, acct: host administration, never a sandbox's business.
//   syslog: the host kernel's log (host addresses, other containers' events); refused here rather
//     than left to the host's kernel.dmesg_restrict.
//   open_by_handle_at, name_to_handle_at: file handles open files by inode, around the mount tree
//     (the "shocker" container escape).
//   personality, unless its argument is PER_LINUX (0), PER_LINUX32 (8), UNAME26 (0x20000), both
//     (0x20008) or the query 0xffffffff: other flags disable ASLR (ADDR_NO_RANDOMIZE) or make
//     readable memory executable (READ_IMPLIES_EXEC) for the programs a process then runs.
//   socket(AF_NETLINK, *, NETLINK_AUDIT): the audit subsystem is not for sandboxes; other netlink
//     families (NETLINK_ROUTE for interface lists) and every other socket stay allowed.
//   ioctl TIOCSTI and TIOCLINUX: typing into, or driving, a terminal the sandbox shares.
// Refused with ENOSYS ("not implemented", so callers fall back as on an older kernel):
//   io_uring_setup, io_uring_enter, io_uring_register: io_uring has had many kernel bugs and
//     bypasses per-call filtering; libuv, Bun and tokio use epoll when setup says ENOSYS.
//   clone3: its flags live in memory a filter cannot read; glibc (2.34+) then uses clone, whose
//     flags the filter checks (Docker does the same).
// What stays allowed on purpose: seccomp and landlock (a process may restrict itself further),
// every other socket family, memfd, mprotect with PROT_EXEC (the CLI and node JIT compile).
//
// Argument checks compare only the low 32 bits of an argument: each checked argument is an int or
// unsigned int to the kernel (socket's family and protocol, ioctl's command, personality's value),
// or, for clone, a flags word whose low 32 bits the kernel uses; the kernel ignores the high bits,
// so a caller setting them cannot slip past the check.
import { BpfAssembler, encodeProgram, NEXT, SECCOMP_DATA, SECCOMP_RET, type SockFilter } from './bpf.js';
import { ARCH_TABLES, X32_SYSCALL_BIT, type PolicySyscall, type SeccompArch } from './syscall-tables.js';

/** errno values a refused call returns (the same numbers on x86_64 and aarch64). */
export const ERRNO = { EPERM: 1, ENOSYS: 38 } as const;
export type DenyErrno = keyof typeof ERRNO;

/** A test on the low 32 bits of argument `arg` (0-5). */
export type ArgTest =
  | { arg: number; test: 'in'; values: readonly number[] }
  | { arg: number; test: 'notIn'; values: readonly number[] }
  | { arg: number; test: 'anyBit'; mask: number };

/** One refused system call. */
export interface SyscallRule {
  syscall: PolicySyscall;
  errno: DenyErrno;
  /** Refused only when every test holds; without tests, always refused. */
  when?: readonly ArgTest[];
}

const AF_NETLINK = 16;
const NETLINK_AUDIT = 9;
/** CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET. */
export const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;
/** personality values a sandbox may set: PER_LINUX, PER_LINUX32, UNAME26, both, and the query. */
export const ALLOWED_PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff] as const;
const TIOCSTI = 0x5412;
const TIOCLINUX = 0x541c;

const always = (errno: DenyErrno, ...syscalls: PolicySyscall[]): SyscallRule[] => syscalls.map((syscall) => ({ syscall, errno }));

/** The sandbox policy: every refused call (see the top of this file for why). */
export const SANDBOX_SECCOMP_POLICY: readonly SyscallRule[] = [
  // Conditional rules first: ioctl, socket and clone are the frequent calls among those named here.
  { syscall: 'ioctl', errno: 'EPERM', when: [{ arg: 1, test: 'in', values: [TIOCSTI, TIOCLINUX] }] },
  {
    syscall: 'socket',
    errno: 'EPERM',
    when: [
      { arg: 0, test: 'in', values: [AF_NETLINK] },
      { arg: 2, test: 'in', values: [NETLINK_AUDIT] },
    ],
  },
  { syscall: 'clone', errno: 'EPERM', when: [{ arg: 0, test: 'anyBit', mask: CLONE_NAMESPACE_FLAGS }] },
  { syscall: 'personality', errno: 'EPERM', when: [{ arg: 0, test: 'notIn', values: ALLOWED_PERSONALITIES }] },
  ...always('ENOSYS', 'clone3', 'io_uring_setup', 'io_uring_enter', 'io_uring_register'),
  ...always('EPERM', 'ptrace', 'process_vm_readv', 'process_vm_writev', 'pidfd_getfd', 'userfaultfd'),
  ...always('EPERM', 'keyctl', 'add_key', 'request_key', 'bpf', 'perf_event_open'),
  ...always('EPERM', 'mount', 'umount2', 'pivot_root', 'open_tree', 'move_mount', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'mount_setattr'),
  ...always('EPERM', 'unshare', 'setns'),
  ...always('EPERM', 'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'reboot', 'swapon', 'swapoff', 'acct', 'syslog'),
  ...always('EPERM', 'open_by_handle_at', 'name_to_handle_at'),
];

/** The filter's instructions for `arch`, enforcing `policy` (the sandbox policy unless given). */
export function buildSeccompProgram(arch: SeccompArch, policy: readonly SyscallRule[] = SANDBOX_SECCOMP_POLICY): SockFilter[] {
  const table = ARCH_TABLES[arch];
  const seen = new Set<PolicySyscall>();
  for (const rule of policy) {
    if (seen.has(rule.syscall)) throw new Error(`seccomp policy names ${rule.syscall} twice`);
    seen.add(rule.syscall);
  }
  const deny = (errno: DenyErrno): number => SECCOMP_RET.ERRNO | ERRNO[errno];
  const denyLabel = (errno: DenyErrno): string => `deny-${errno}`;
  const asm = new BpfAssembler();

  // 1. Architecture check.
  asm.load(SECCOMP_DATA.ARCH).jeq(table.auditArch, NEXT, 'kill');
  // 2. The call number; on x86_64, x32 numbers go to their own block.
  asm.load(SECCOMP_DATA.NR);
  if (table.hasX32) asm.jge(X32_SYSCALL_BIT, 'x32', NEXT);
  // 3. Dispatch: a refused call jumps to its return, a conditional one to its argument checks.
  for (const rule of policy) {
    const target = rule.when === undefined ? denyLabel(rule.errno) : `args-${rule.syscall}`;
    asm.jeq(table.numbers[rule.syscall], target, NEXT);
  }
  asm.ret(SECCOMP_RET.ALLOW);

  // Argument checks: each test that fails jumps to `allow`; passing them all refuses the call.
  let clauses = 0;
  for (const rule of policy) {
    if (rule.when === undefined) continue;
    asm.label(`args-${rule.syscall}`);
    for (const clause of rule.when) {
      if (!Number.isInteger(clause.arg) || clause.arg < 0 || clause.arg > 5) throw new Error(`${rule.syscall}: no argument ${clause.arg}`);
      asm.load(SECCOMP_DATA.argLow(clause.arg));
      if (clause.test === 'anyBit') {
        asm.jset(clause.mask, NEXT, 'allow');
      } else if (clause.test === 'notIn') {
        for (const value of clause.values) asm.jeq(value, 'allow', NEXT);
      } else {
        if (clause.values.length === 0) throw new Error(`${rule.syscall}: an 'in' test needs values`);
        const passed = `clause-${clauses++}`;
        clause.values.forEach((value, index) => {
          if (index < clause.values.length - 1) asm.jeq(value, passed, NEXT);
          else asm.jeq(value, NEXT, 'allow');
        });
        asm.label(passed);
      }
    }
    asm.ret(deny(rule.errno));
  }

  if (table.hasX32) asm.label('x32').jeq(0xffffffff, denyLabel('ENOSYS'), 'kill');
  for (const errno of Object.keys(ERRNO) as DenyErrno[]) asm.label(denyLabel(errno)).ret(deny(errno));
  asm.label('allow').ret(SECCOMP_RET.ALLOW);
  asm.label('kill').ret(SECCOMP_RET.KILL_PROCESS);
  return asm.assemble();
}

/**
 * The sandbox's seccomp filter for `arch`: an array of struct sock_filter, 8 little-endian bytes
 * each, as bubblewrap's `--seccomp FD` reads it from FD (to end of file).
 */
export function buildSeccompFilter(arch: SeccompArch): Buffer {
  return encodeProgram(buildSeccompProgram(arch));
}
