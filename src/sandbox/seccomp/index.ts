// Seccomp filters for sandboxes: a pure generator of the classic BPF program bubblewrap installs
// with `--seccomp FD` (see filter.ts for the policy).
import type { SeccompArch } from './syscall-tables.js';

export { buildSeccompFilter, buildSeccompProgram, SANDBOX_SECCOMP_POLICY, type ArgTest, type DenyErrno, type SyscallRule } from './filter.js';
export { encodeProgram, type SockFilter } from './bpf.js';
export type { PolicySyscall, SeccompArch } from './syscall-tables.js';

/** The filter architecture of this Node process's host (process.arch), or undefined if none is built for it. */
export function hostSeccompArch(nodeArch: string = process.arch): SeccompArch | undefined {
  if (nodeArch === 'x64') return 'x86_64';
  if (nodeArch === 'arm64') return 'aarch64';
  return undefined;
}
