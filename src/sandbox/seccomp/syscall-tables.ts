// System call numbers and audit architecture values for the architectures a sandbox filter is
// built for. Only the calls the policy in filter.ts names are listed.
//   x86_64:  arch/x86/entry/syscalls/syscall_64.tbl in the kernel source (the `common`/`64` rows),
//            as installed in /usr/include/x86_64-linux-gnu/asm/unistd_64.h (a test compares them).
//   aarch64: include/uapi/asm-generic/unistd.h, which arm64 uses for its native table, as installed
//            in /usr/include/asm-generic/unistd.h (a test compares them).
// Audit architectures come from include/uapi/linux/audit.h: the ELF machine number with
// __AUDIT_ARCH_64BIT (0x80000000) and __AUDIT_ARCH_LE (0x40000000).

/** Architectures a filter can be built for (the names `uname -m` prints). */
export type SeccompArch = 'x86_64' | 'aarch64';

/** The system calls the sandbox policy names, by their kernel names. */
export const POLICY_SYSCALLS = [
  'ptrace',
  'process_vm_readv',
  'process_vm_writev',
  'pidfd_getfd',
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  'userfaultfd',
  'keyctl',
  'add_key',
  'request_key',
  'bpf',
  'perf_event_open',
  'mount',
  'umount2',
  'pivot_root',
  'open_tree',
  'move_mount',
  'fsopen',
  'fsconfig',
  'fsmount',
  'fspick',
  'mount_setattr',
  'unshare',
  'setns',
  'kexec_load',
  'kexec_file_load',
  'init_module',
  'finit_module',
  'delete_module',
  'reboot',
  'swapon',
  'swapoff',
  'acct',
  'syslog',
  'open_by_handle_at',
  'name_to_handle_at',
  'personality',
  'socket',
  'clone',
  'clone3',
  'ioctl',
] as const;

export type PolicySyscall = (typeof POLICY_SYSCALLS)[number];

/** AUDIT_ARCH_X86_64: EM_X86_64 (62) | 64BIT | LE. */
export const AUDIT_ARCH_X86_64 = 0xc000003e;
/** AUDIT_ARCH_AARCH64: EM_AARCH64 (183) | 64BIT | LE. */
export const AUDIT_ARCH_AARCH64 = 0xc00000b7;
/** AUDIT_ARCH_I386: EM_386 (3) | LE; what a 32-bit `int 0x80` call on x86_64 reports. */
export const AUDIT_ARCH_I386 = 0x40000003;

/** __X32_SYSCALL_BIT: x32 ABI calls reach the x86_64 entry with this bit set in the number. */
export const X32_SYSCALL_BIT = 0x40000000;

const X86_64: Record<PolicySyscall, number> = {
  ptrace: 101,
  process_vm_readv: 310,
  process_vm_writev: 311,
  pidfd_getfd: 438,
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  userfaultfd: 323,
  keyctl: 250,
  add_key: 248,
  request_key: 249,
  bpf: 321,
  perf_event_open: 298,
  mount: 165,
  umount2: 166,
  pivot_root: 155,
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  mount_setattr: 442,
  unshare: 272,
  setns: 308,
  kexec_load: 246,
  kexec_file_load: 320,
  init_module: 175,
  finit_module: 313,
  delete_module: 176,
  reboot: 169,
  swapon: 167,
  swapoff: 168,
  acct: 163,
  syslog: 103,
  open_by_handle_at: 304,
  name_to_handle_at: 303,
  personality: 135,
  socket: 41,
  clone: 56,
  clone3: 435,
  ioctl: 16,
};

const AARCH64: Record<PolicySyscall, number> = {
  ptrace: 117,
  process_vm_readv: 270,
  process_vm_writev: 271,
  pidfd_getfd: 438,
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  userfaultfd: 282,
  keyctl: 219,
  add_key: 217,
  request_key: 218,
  bpf: 280,
  perf_event_open: 241,
  mount: 40,
  umount2: 39,
  pivot_root: 41,
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  mount_setattr: 442,
  unshare: 97,
  setns: 268,
  kexec_load: 104,
  kexec_file_load: 294,
  init_module: 105,
  finit_module: 273,
  delete_module: 106,
  reboot: 142,
  swapon: 224,
  swapoff: 225,
  acct: 89,
  syslog: 116,
  open_by_handle_at: 265,
  name_to_handle_at: 264,
  personality: 92,
  socket: 198,
  clone: 220,
  clone3: 435,
  ioctl: 29,
};

/** One architecture's facts: its audit value, whether it has the x32 ABI to refuse, its numbers. */
export interface ArchTable {
  auditArch: number;
  /** x86_64 only: numbers with X32_SYSCALL_BIT set belong to the x32 ABI. */
  hasX32: boolean;
  numbers: Readonly<Record<PolicySyscall, number>>;
}

export const ARCH_TABLES: Readonly<Record<SeccompArch, ArchTable>> = {
  x86_64: { auditArch: AUDIT_ARCH_X86_64, hasX32: true, numbers: X86_64 },
  aarch64: { auditArch: AUDIT_ARCH_AARCH64, hasX32: false, numbers: AARCH64 },
};
