// Isolation, probed by the agent itself: the scripted model asks the real CLI to run Bash probes
// inside its sandbox, and the test reads what the CLI sent back.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskView } from '../../src/client/hangar-client.js';
import { startHarness, toolResultsSent, type Harness } from '../helpers/hangar-harness.js';

const UPSTREAM_KEY = 'sk-ant-isolation-real-key-7f3a9c1e5b';

/** Calls the syscalls the seccomp filter refuses (x86_64 numbers), printing each one's errno name. */
const SYSCALL_PROBE = `-c '
import ctypes, errno, os, socket
libc = ctypes.CDLL(None, use_errno=True)
def call(name, number, *args):
    result = libc.syscall(number, *args)
    print(name, "ok" if result >= 0 else errno.errorcode[ctypes.get_errno()])
call("io_uring_setup", 425, 8, ctypes.create_string_buffer(120))
call("keyctl", 250, 0, 0, 0, 0, 0)
call("unshare-user", 272, 0x10000000)
call("bpf", 321, 0, 0, 0)
call("perf_event_open", 298, 0, 0, -1, -1, 0)
call("userfaultfd", 323, 0)
try:
    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 9); print("audit-netlink ok")
except OSError as error:
    print("audit-netlink", errno.errorcode[error.errno])
socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0); print("route-netlink ok")
'`;

const bash = (command: string) => ({ content: [{ type: 'tool_use' as const, name: 'Bash', input: { command, description: 'probe', timeout: 60000 } }] });

describe('sandbox isolation probed by the agent through Bash', () => {
  let harness: Harness;
  let hostServer: http.Server;
  let hostPort: number;
  let task: TaskView;
  let results: string[];

  beforeAll(async () => {
    // A variable only the host process has: it must not reach the sandbox.
    process.env.HANGAR_TEST_HOST_ONLY = 'host-only-sentinel-5d2e';
    // A host service on loopback that the sandbox must not reach.
    hostServer = http.createServer((_request, response) => response.end('host secret service'));
    await new Promise<void>((resolve) => hostServer.listen(0, '127.0.0.1', resolve));
    hostPort = (hostServer.address() as AddressInfo).port;
    harness = await startHarness({ upstreamApiKey: UPSTREAM_KEY, scenario: { replies: [] } });
    const probes = [
      'id -u; id -g; grep -E "^(CapEff|NoNewPrivs)" /proc/self/status',
      `cat /etc/shadow 2>&1 | head -1; ls /root 2>&1 | head -1; ls ${harness.dataDir} 2>&1 | head -1; cat ${process.cwd()}/package.json 2>&1 | head -1`,
      'for d in / /usr /etc /var /opt /run /workspace /tmp "$HOME" /proc/sys; do if touch "$d/.probe" 2>/dev/null; then echo "writable $d"; rm -f "$d/.probe"; else echo "readonly $d"; fi; done',
      `tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\\n" " "; echo; (exec 3<>/dev/tcp/127.0.0.1/${hostPort}) 2>/dev/null && echo HOST-PORT-REACHED || echo HOST-PORT-BLOCKED; (exec 3<>/dev/tcp/10.0.0.1/80) 2>/dev/null && echo OUTSIDE-REACHED || echo OUTSIDE-BLOCKED`,
      'head -c 4000m /dev/zero | tail > /dev/null; echo "hog-exit=$?"',
      `perl -e 'my $n = 0; my @kids; for (1..5000) { my $pid = fork(); if (!defined $pid) { print "fork-failed-after=$n error=$!\\n"; last } if ($pid == 0) { sleep 30; exit 0 } push @kids, $pid; $n++ } kill "KILL", @kids; waitpid($_, 0) for @kids; print "forks=$n\\n"'`,
      'dd if=/dev/zero of=/workspace/fill bs=1M count=200 2>&1; df -m /workspace | tail -1; rm -f /workspace/fill; echo disk-probe-done',
      'env > /workspace/probe-env.txt; cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" "\\n" > /workspace/probe-proc.txt; grep -rIh . "$HOME" /tmp /workspace/probe-env.txt 2>/dev/null > /workspace/probe-files.txt; echo dumped',
      `echo "etc: $(ls /etc | tr "\\n" " ")"; echo "cmdline: $(cat /proc/cmdline)"; echo "mountinfo-host-paths: $(grep -e ${harness.dataDir} -e /var/lib /proc/self/mountinfo | grep -vc "[.]sock /run/hangar/")"; python3 ${SYSCALL_PROBE}`,
    ];
    harness.model.setScenario({ replies: [...probes.map(bash), { content: [{ type: 'text', text: 'probes done' }] }] });
    task = await harness.client.runTask({
      prompt: 'Run the isolation probes.',
      allowedTools: ['Bash'],
      maxTurns: probes.length + 2,
      resources: { memoryMb: 768, diskMb: 64, cpus: 1 },
    });
    results = toolResultsSent(harness.model);
  }, 180_000);

  afterAll(async () => {
    await harness?.close();
    await new Promise<void>((resolve) => hostServer?.close(() => resolve()));
    delete process.env.HANGAR_TEST_HOST_ONLY;
  });

  it('finishes the task after every probe', () => {
    expect(task.error).toBeNull();
    expect(task.status).toBe('succeeded');
    expect(task.result).toBe('probes done');
    expect(results).toHaveLength(9);
  });

  it('runs as an unprivileged user with no capabilities', () => {
    const [uid, gid] = results[0]!.split('\n');
    expect(uid).toBe('1000');
    expect(gid).toBe('1000');
    expect(results[0]).toMatch(/CapEff:\s+0000000000000000/);
    expect(results[0]).toMatch(/NoNewPrivs:\s+1/);
  });

  it('cannot read host secrets, /root, the data directory or the project', () => {
    const lines = results[1]!.split('\n');
    expect(lines[0]).toMatch(/Permission denied|No such file/);
    expect(lines[1]).toMatch(/Permission denied|No such file/);
    expect(lines[2]).toMatch(/No such file|Permission denied/);
    expect(lines[3]).toMatch(/No such file|Permission denied/);
    expect(results[1]).not.toContain('"name"');
  });

  it('can write only to the workspace, HOME and /tmp', () => {
    const writable = results[2]!
      .split('\n')
      .filter((line) => line.startsWith('writable'))
      .map((line) => line.slice('writable '.length));
    expect(writable.sort()).toEqual(['/home/agent', '/tmp', '/workspace']);
  });

  it('has no network but loopback: a host port and outside addresses are unreachable', () => {
    const [interfaces, hostProbe, outsideProbe] = results[3]!.split('\n');
    expect(interfaces?.trim()).toBe('lo');
    expect(hostProbe).toBe('HOST-PORT-BLOCKED');
    expect(outsideProbe).toBe('OUTSIDE-BLOCKED');
  });

  it('OOM-kills a memory hog and reports it', () => {
    expect(results[4]).toContain('hog-exit=137');
    expect(task.sandbox).toMatchObject({ oomKills: expect.any(Number) });
    expect((task.sandbox as { oomKills: number }).oomKills).toBeGreaterThanOrEqual(1);
  });

  it('holds a fork bomb at the pids limit', () => {
    const match = /fork-failed-after=(\d+) error=(.*)/.exec(results[5]!);
    expect(match, results[5]).not.toBeNull();
    expect(Number(match![1])).toBeLessThan(512);
    expect(match![2]).toMatch(/Resource temporarily unavailable/);
  });

  it('gets ENOSPC when filling the workspace past its size limit', () => {
    expect(results[6], results[6]).toContain('No space left on device');
    expect(results[6]).toContain('disk-probe-done');
  });

  it('never sees the real API key or host environment: not in env, /proc or files (only its session token)', () => {
    const dumps = ['probe-env.txt', 'probe-proc.txt', 'probe-files.txt'].map((name) => task.files.find((file) => file.path === name));
    for (const dump of dumps) {
      expect(dump?.content).toBeDefined();
      expect(dump!.content).not.toContain(UPSTREAM_KEY);
      expect(dump!.content).not.toContain(UPSTREAM_KEY.slice(8, 24));
    }
    for (const dump of dumps) expect(dump!.content).not.toContain('host-only-sentinel-5d2e');
    // The dumps are real: they hold the per-task token the CLI used instead.
    expect(dumps[0]!.content).toMatch(/ANTHROPIC_API_KEY=hgr-/);
    expect(dumps[1]!.content).toMatch(/ANTHROPIC_API_KEY=hgr-/);
  });

  it('sees its own /etc, no host kernel command line or data paths, and cannot reach the kernel interfaces the seccomp filter closes', () => {
    const lines = results[8]!.split('\n');
    const etc = (lines.find((line) => line.startsWith('etc: ')) ?? '').slice(5).trim().split(' ');
    expect(etc).toEqual(expect.arrayContaining(['passwd', 'group', 'hosts', 'resolv.conf', 'ssl', 'alternatives']));
    for (const hostOnly of ['shadow', 'machine-id', 'postgresql', 'npmrc', 'fstab']) expect(etc).not.toContain(hostOnly);
    expect(lines).toContain('cmdline: hangar');
    // Only the bridge sockets' binds name a host path under the data directory.
    expect(lines).toContain('mountinfo-host-paths: 0');
    for (const refused of ['keyctl', 'unshare-user', 'bpf', 'perf_event_open', 'userfaultfd', 'audit-netlink']) expect(lines).toContain(`${refused} EPERM`);
    expect(lines).toContain('io_uring_setup ENOSYS');
    expect(lines).toContain('route-netlink ok');
  });
});
