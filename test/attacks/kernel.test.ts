// Attack: a real agent asks the kernel for what only root may do, through its Bash tool inside the
// real sandbox: load and unload kernel modules (init_module, finit_module, delete_module), mount,
// unmount, chroot, pivot_root and setns, reboot, kexec, swap, set the clock and the host name, make
// a block device, read the kernel log, open files by handle (the "shocker" escape), port I/O, process
// accounting, become uid 0 (setuid, setuid-root binaries of the host, a setuid copy of a shell it
// made itself, chown to root), write the kernel's tunables in /proc/sys and /proc/sysrq-trigger, and
// hardlink host and Hangar files into its own filesystems. Every attempt must fail, and the host
// must be unchanged: the same kernel modules, host name and identity of its secret and setuid files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskView } from '../../src/client/hangar-client.js';
import { attemptsScript, checkOutput, hostFacts, python, runAgentTask, type HostFacts } from '../helpers/attack-agent.js';
import { startHarness, type Harness } from '../helpers/hangar-harness.js';

/** Each privileged syscall (x86_64 numbers), called directly; prints `name ok` or `name <errno name>`. */
const SYSCALLS = String.raw`
import ctypes, errno, os, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(name, number, *args):
    result = libc.syscall(ctypes.c_long(number), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    print(name, 'ok' if result >= 0 else errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno()))
module = b'\x7fELF' + b'\0' * 4092
with open('/workspace/evil.ko', 'wb') as f: f.write(module)
fd = os.open('/workspace/evil.ko', os.O_RDONLY)
call('init_module', 175, ctypes.c_char_p(module), len(module), ctypes.c_char_p(b''))
call('finit_module', 313, fd, ctypes.c_char_p(b''), 0)
call('delete_module', 176, ctypes.c_char_p(b'ext4'), 0x800)
os.makedirs('/tmp/mnt', exist_ok=True)
call('mount_tmpfs', 165, ctypes.c_char_p(b'none'), ctypes.c_char_p(b'/tmp/mnt'), ctypes.c_char_p(b'tmpfs'), 0, 0)
call('mount_bind_root', 165, ctypes.c_char_p(b'/'), ctypes.c_char_p(b'/tmp/mnt'), 0, 4096, 0)
call('mount_remount_rw', 165, 0, ctypes.c_char_p(b'/usr'), 0, 32, 0)
call('umount_workspace', 166, ctypes.c_char_p(b'/workspace'), 2)
call('chroot', 161, ctypes.c_char_p(b'/workspace'))
call('pivot_root', 155, ctypes.c_char_p(b'/workspace'), ctypes.c_char_p(b'/workspace'))
ns = os.open('/proc/1/ns/mnt', os.O_RDONLY)
call('setns', 308, ns, 0)
# LINUX_REBOOT_CMD_CAD_OFF: harmless even where it is allowed.
call('reboot', 169, 0xfee1dead, 672274793, 0, 0)
call('kexec_load', 246, 0, 0, 0, 0)
with open('/workspace/swap', 'wb') as f: f.write(b'\0' * 65536)
call('swapon', 167, ctypes.c_char_p(b'/workspace/swap'), 0)
now = int(time.time())
timeval = (ctypes.c_long * 2)(now, 0)
call('settimeofday', 164, timeval, 0)
call('clock_settime', 227, 0, timeval)
call('sethostname', 170, ctypes.c_char_p(b'pwned'), 5)
call('mknod_block', 133, ctypes.c_char_p(b'/workspace/vda'), 0o060600, (254 << 8) | 0)
call('mknod_mem', 133, ctypes.c_char_p(b'/workspace/mem'), 0o020600, (1 << 8) | 1)
buffer = ctypes.create_string_buffer(4096)
call('syslog_read_all', 103, 3, buffer, 4096)
handle = ctypes.create_string_buffer(b'\x08\x00\x00\x00\x01\x00\x00\x00' + b'\x02\x00\x00\x00\x00\x00\x00\x00')
call('open_by_handle_at', 304, os.open('/', os.O_RDONLY), handle, 0)
call('name_to_handle_at', 303, -100, ctypes.c_char_p(b'/etc/passwd'), handle, ctypes.byref(ctypes.c_int()), 0)
call('iopl', 172, 3)
call('ioperm', 173, 0, 1024, 1)
call('acct', 163, ctypes.c_char_p(b'/workspace/acct'))
call('setuid_0', 105, 0)
call('setresuid_0', 117, 0, 0, 0)
call('setgid_0', 106, 0)
call('chown_root', 92, ctypes.c_char_p(b'/workspace/evil.ko'), 0, 0)
# Hardlinks by descriptor: AT_EMPTY_PATH (needs CAP_DAC_READ_SEARCH), and through /proc/self/fd.
passwd = os.open('/etc/passwd', os.O_RDONLY)
call('linkat_empty_path', 265, passwd, ctypes.c_char_p(b''), -100, ctypes.c_char_p(b'/tmp/passwd-link'), 0x1000)
call('linkat_proc_fd', 265, -100, ctypes.c_char_p(('/proc/self/fd/%d' % passwd).encode()), -100, ctypes.c_char_p(b'/tmp/passwd-link2'), 0x400)
print('left', sorted(name for name in os.listdir('/tmp') if 'link' in name), os.path.exists('/workspace/vda'), os.path.exists('/workspace/mem'))
`;

const REFUSED_SYSCALLS = [
  'init_module',
  'finit_module',
  'delete_module',
  'mount_tmpfs',
  'mount_bind_root',
  'mount_remount_rw',
  'umount_workspace',
  'chroot',
  'pivot_root',
  'setns',
  'reboot',
  'kexec_load',
  'swapon',
  'settimeofday',
  'clock_settime',
  'sethostname',
  'mknod_block',
  'mknod_mem',
  'syslog_read_all',
  'open_by_handle_at',
  'name_to_handle_at',
  'iopl',
  'ioperm',
  'acct',
];

/** Shell-level attempts, one line of output each. */
const ATTEMPTS: Array<[string, string]> = [
  ['mount_tool', 'mkdir -p /tmp/m; mount -t tmpfs none /tmp/m; mount --bind / /tmp/m; echo "exit=$?"'],
  [
    'umount_tool',
    'umount -l /workspace; umount /run/hangar/model-gateway.sock; echo "exit=$?"; grep -cE " /workspace | /run/hangar/model-gateway.sock " /proc/self/mountinfo',
  ],
  ['unshare_tool', 'unshare -r id -u; unshare -m true; unshare -n true; echo "exit=$?"'],
  ['nsenter_tool', 'nsenter -t 1 -m -u -n -p true; echo "exit=$?"'],
  // The host's setuid binaries are owned by an unmapped uid (nobody) inside and the sandbox runs with no_new_privs.
  ['su_root', 'ls -ln /usr/bin/su | cut -d" " -f1,3; echo "not-a-password" | su -c "id -u > /tmp/su-ran" root; cat /tmp/su-ran 2>&1'],
  ['passwd_tool', 'ls -ln /usr/bin/passwd | cut -d" " -f1,3; printf "x\\nx\\nx\\n" | passwd agent; echo "exit=$?"'],
  ['mount_setuid', 'ls -ln /usr/bin/mount | cut -d" " -f1,3; mount -o remount,rw /; echo "exit=$?"'],
  [
    'setuid_copy',
    'cp /usr/bin/bash /workspace/rootsh && chmod 4755 /workspace/rootsh && stat -c "%A %u" /workspace/rootsh; /workspace/rootsh -p -c "echo euid=\\$(id -u) ruid=\\$(id -ru)"; chown 0:0 /workspace/rootsh; rm -f /workspace/rootsh',
  ],
  [
    'setuid_python',
    'cp /usr/bin/python3 /tmp/py && chmod u+s,g+s /tmp/py && /tmp/py -c "import os; print(\\"euid\\", os.geteuid(), \\"egid\\", os.getegid())"; grep -E " /(workspace|tmp|home/agent) " /proc/self/mountinfo | grep -c nosuid',
  ],
  ['sysrq_trigger', 'echo h > /proc/sysrq-trigger; echo "exit=$?"'],
  [
    'proc_sys_write',
    'echo 3 > /proc/sys/vm/drop_caches; echo pwned > /proc/sys/kernel/hostname; echo 0 > /proc/sys/kernel/randomize_va_space; echo "exit=$?"; cat /proc/sys/kernel/hostname',
  ],
  ['dmesg', 'dmesg | head -1; echo "exit=${PIPESTATUS[0]}"'],
  [
    'raw_devices',
    'ls /dev | tr "\\n" " "; for d in /dev/mem /dev/kmem /dev/port /dev/vda /dev/sda /dev/loop0 /dev/kmsg; do head -c1 $d >/dev/null 2>&1 && echo "read $d"; done; echo devices-done',
  ],
  [
    'hardlinks',
    [
      'try() { if out=$(ln "$1" "$2" 2>&1); then echo "LINKED $1"; else echo "refused $1 (${out##*: })"; fi; }',
      ...[
        '/etc/passwd /workspace/passwd',
        '/etc/passwd /tmp/passwd',
        '/etc/shadow /workspace/shadow',
        '/usr/bin/su /workspace/su',
        '/usr/bin/passwd /tmp/passwd-bin',
        '/run/hangar/model-gateway.sock /tmp/gateway.sock',
        '/run/hangar/files/egress/hangar-ca.pem /workspace/ca.pem',
        '/etc/hosts /home/agent/hosts',
        '/proc/self/exe /tmp/exe',
      ].map((pair) => `try ${pair}`),
      'ls /workspace /tmp /home/agent | grep -cE "^(passwd|shadow|su|passwd-bin|gateway.sock|ca.pem|hosts|exe)$"',
    ].join('\n'),
  ],
];

describe('attack: privileged kernel operations and setuid, by a real agent', () => {
  let harness: Harness;
  let task: TaskView;
  let report: string;
  let before: HostFacts;
  let after: HostFacts;
  const syscalls = new Map<string, string>();

  beforeAll(async () => {
    harness = await startHarness({ scenario: { replies: [] } });
    before = hostFacts();
    const run = await runAgentTask(harness, [python(SYSCALLS), attemptsScript(ATTEMPTS)]);
    task = run.task;
    report = run.results.join('\n');
    for (const line of run.results[0]?.split('\n') ?? []) {
      const [name, outcome] = line.trim().split(' ');
      if (name !== undefined && outcome !== undefined && name !== 'left') syscalls.set(name, outcome);
    }
    after = hostFacts();
  }, 180_000);

  afterAll(async () => {
    await harness?.close();
  });

  const output = (name: string): string => checkOutput(report, name);

  it('ran every attempt and the task finished', () => {
    expect(task.error).toBeNull();
    expect(task.status).toBe('succeeded');
    expect(task.result).toBe('done');
    for (const name of ATTEMPTS.map(([attempt]) => attempt)) expect(report).toMatch(new RegExp(`^${name}=`, 'm'));
  });

  it('refuses every privileged syscall: modules, mounts, namespaces, reboot, kexec, swap, clock, host name, devices, kernel log, handles, port I/O', () => {
    const refused = Object.fromEntries(REFUSED_SYSCALLS.map((name) => [name, syscalls.get(name)]));
    for (const [name, outcome] of Object.entries(refused)) expect(outcome, `${name}: ${report}`).toMatch(/^E[A-Z]+$/);
    // The seccomp filter answers EPERM for the module, mount, namespace, reboot, kexec, swap, handle and accounting calls.
    for (const name of [
      'init_module',
      'finit_module',
      'delete_module',
      'mount_tmpfs',
      'umount_workspace',
      'setns',
      'reboot',
      'kexec_load',
      'swapon',
      'open_by_handle_at',
    ]) {
      expect(refused[name], name).toBe('EPERM');
    }
    // No link and no device node was made.
    expect(report).toContain('left [] False False');
  });

  it('gives no uid 0: setuid(0), setuid-root host binaries, a setuid copy of a shell or python, chown to root', () => {
    for (const name of ['setuid_0', 'setresuid_0', 'setgid_0', 'chown_root']) expect(syscalls.get(name), name).toMatch(/^E(PERM|INVAL)$/);
    // Host setuid binaries are owned by the overflow uid inside; running them changes nothing.
    expect(output('su_root')).toMatch(/^-rwsr-xr-x 65534 /);
    expect(output('su_root')).not.toMatch(/(^| )0( |$)/);
    expect(output('passwd_tool')).toMatch(/^-rwsr-xr-x 65534 /);
    expect(output('passwd_tool')).not.toMatch(/password updated successfully/i);
    expect(output('mount_setuid')).toMatch(/exit=(1|32)/);
    // The copy keeps its setuid bit, but the filesystems are nosuid and the process has no_new_privs.
    expect(output('setuid_copy')).toMatch(/^-rwsr-xr-x 1000 /);
    expect(output('setuid_copy')).toContain('euid=1000 ruid=1000');
    expect(output('setuid_copy')).toMatch(/chown: changing ownership of '\/workspace\/rootsh': (Invalid argument|Operation not permitted)/);
    expect(output('setuid_python')).toMatch(/euid 1000 egid 1000 3$/);
  });

  it('cannot mount, unmount, enter or make namespaces with the tools either', () => {
    expect(output('mount_tool')).toMatch(/must be superuser|permission denied|not permitted/i);
    expect(output('mount_tool')).toMatch(/exit=(1|32)$/);
    expect(output('umount_tool')).toMatch(/exit=(1|32) 2$/);
    expect(output('unshare_tool')).toMatch(/unshare failed: Operation not permitted/);
    expect(output('unshare_tool')).toMatch(/exit=1$/);
    expect(output('nsenter_tool')).toMatch(/Operation not permitted|Permission denied/);
  });

  it('cannot write the kernel tunables or sysrq, read the kernel log, or reach a raw device', () => {
    expect(output('sysrq_trigger')).toMatch(/Read-only file system|Permission denied|No such file/);
    expect(output('sysrq_trigger')).toMatch(/exit=1$/);
    expect(output('proc_sys_write')).toMatch(/Read-only file system|Permission denied/);
    expect(output('proc_sys_write')).toMatch(/exit=1 hangar$/);
    expect(output('dmesg')).toMatch(/Operation not permitted/);
    expect(output('raw_devices')).not.toMatch(/\bread \/dev/);
    for (const device of ['mem', 'kmem', 'port', 'vda', 'sda', 'loop0', 'kmsg'])
      expect(output('raw_devices').split(' devices-done')[0]!.split(' ')).not.toContain(device);
    expect(output('raw_devices')).toMatch(/devices-done$/);
  });

  it('cannot hardlink host files, setuid binaries or Hangar files into its filesystems', () => {
    const hardlinks = output('hardlinks');
    expect(hardlinks).not.toContain('LINKED');
    expect(hardlinks.match(/refused /g)).toHaveLength(9);
    // Each link crosses a mount (every host and Hangar file is bound in on its own); /etc/shadow is not there at all.
    expect(hardlinks.match(/refused \/etc\/shadow \(No such file or directory\)/g)).toHaveLength(1);
    expect(hardlinks.match(/\(Invalid cross-device link\)/g)).toHaveLength(8);
    expect(hardlinks).toMatch(/ 0$/);
    expect(syscalls.get('linkat_empty_path')).toMatch(/^E(NOENT|PERM|XDEV)$/);
    expect(syscalls.get('linkat_proc_fd')).toBe('EXDEV');
  });

  it('left the host unchanged: kernel modules, host name, and its secret and setuid files', () => {
    expect(after).toEqual(before);
    expect(after.files['/etc/shadow']?.nlink ?? 1).toBe(1);
  });
});
