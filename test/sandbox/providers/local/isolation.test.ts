// Isolation probes through real local sandboxes, with ext4 and with tmpfs workspaces: identity,
// filesystem, network, resource limits (memory, cpu, pids, disk), cleanup and secrets, each checked
// from inside the sandbox and from the host.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHangarError } from '../../../../src/errors/errors.js';
import {
  createLocalSandboxProvider,
  type LocalSandbox,
  type LocalSandboxProvider,
  type WorkspaceBacking,
} from '../../../../src/sandbox/providers/local/index.js';
import type { SandboxBridge, SandboxResources } from '../../../../src/sandbox/sandbox-provider.js';
import { assertLocalSandboxGone, exitOf, hostUids, waitAllGone } from '../../../helpers/sandbox-host.js';
import { useTempDirs } from '../../../helpers/temp-dirs.js';

const execFileAsync = promisify(execFile);
const resources: SandboxResources = { memoryMb: 256, cpus: 1, diskMb: 64, pids: 128 };
const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/home/agent', USER: 'agent' };
const CLAUDE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../node_modules/@anthropic-ai/claude-agent-sdk-linux-x64');
// /dev/shm lives on the sandbox's own tmpfs. The device nodes are the usual world-writable ones
// (bwrap binds them over empty files, so find reports them as files), and devpts creates no files.
const ALLOWED_WRITABLE = ['/workspace', '/home/agent', '/tmp', '/dev/shm'];
const ALLOWED_DEVICES = ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/pts'];
const BACKINGS: WorkspaceBacking[] = ['ext4', 'tmpfs'];
const CLOCK_TICKS_PER_SECOND = 100;

/** New host directories (sandbox roots, socket dirs), removed after the file's tests. */
const newDir = useTempDirs();

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; 0 when it is gone. */
async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / CLOCK_TICKS_PER_SECOND;
}

/** Waits until `predicate` holds, polling every 20 ms (bounded). */
async function eventually(predicate: () => Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return predicate();
}

/** A unix socket server on the host that answers each line with `pong:<line>`. */
async function startBridgeServer(): Promise<{ socketPath: string; close: () => Promise<void> }> {
  const dir = await newDir('hangar-bridge-');
  await chmod(dir, 0o755);
  const socketPath = path.join(dir, 'gateway.sock');
  const server = net.createServer((socket) => {
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => socket.end(`pong:${data.trim()}\n`));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  await chmod(socketPath, 0o666);
  return { socketPath, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe.each(BACKINGS)('local sandbox isolation (%s workspaces)', (backing) => {
  let provider: LocalSandboxProvider;

  beforeAll(async () => {
    const rootDir = await newDir('hangar-isolation-');
    provider = createLocalSandboxProvider({ rootDir, workspaceBacking: backing, warmPoolSize: 0 });
  });

  afterAll(async () => {
    await provider?.close();
  });

  async function withSandbox<T>(
    options: { resources?: Partial<SandboxResources>; bridges?: SandboxBridge[]; readOnlyPaths?: string[] },
    body: (sandbox: LocalSandbox) => Promise<T>,
  ): Promise<T> {
    const sandbox = await provider.create({
      resources: { ...resources, ...options.resources },
      bridges: options.bridges ?? [],
      readOnlyPaths: options.readOnlyPaths ?? [],
    });
    try {
      return await body(sandbox);
    } finally {
      await sandbox.destroy();
    }
  }

  it('runs processes as uid 1000 inside and as the sandbox uid on the host', async () => {
    await withSandbox({}, async (sandbox) => {
      expect(sandbox.hostUid).toBeGreaterThanOrEqual(200000);
      expect((await sandbox.exec('id', ['-u'])).stdout.trim()).toBe('1000');
      expect((await sandbox.exec('id', ['-un'])).stdout.trim()).toBe('agent');
      const child = sandbox.spawn({ command: 'sh', args: ['-c', 'id -u; exec sleep 60'], env: ENV });
      const exited = exitOf(child);
      const firstLine = await new Promise<string>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())));
      expect(firstLine.trim()).toBe('1000');
      // `id` may still be exiting when its output arrives: check the processes that remain.
      const checked: number[] = [];
      for (const pid of await sandbox.hostPids()) {
        const uids = await hostUids(pid);
        if (uids === undefined) continue;
        expect(uids, `pid ${pid}`).toEqual([sandbox.hostUid, sandbox.hostUid, sandbox.hostUid, sandbox.hostUid]);
        checked.push(pid);
      }
      expect(checked.length).toBeGreaterThanOrEqual(3);
      if (child.pid !== undefined) expect(checked).toContain(child.pid);
      child.kill('SIGKILL');
      await exited;
    });
  });

  it('builds its own /etc: the entries programs need, nothing else of the host, no host paths in mountinfo; the host /proc/cmdline is masked', async () => {
    await withSandbox({}, async (sandbox) => {
      const listing = await sandbox.exec('ls', ['-A', '/etc']);
      expect(listing.exitCode).toBe(0);
      const names = listing.stdout.trim().split('\n');
      for (const generated of ['passwd', 'group', 'hosts', 'hostname', 'resolv.conf', 'nsswitch.conf']) expect(names).toContain(generated);
      for (const hostOnly of ['shadow', 'gshadow', 'machine-id', 'postgresql', 'ssh/sshd_config', 'sudoers', 'npmrc', 'fstab', 'crontab']) {
        expect(names).not.toContain(hostOnly);
      }
      const programs = await sandbox.exec('sh', [
        '-c',
        'awk "BEGIN { print 6 * 7 }" && getent passwd agent && getent hosts hangar && cat /etc/hostname /proc/cmdline && ls /etc/ssl/certs | head -1 | wc -l && cat /proc/kallsyms | wc -c',
      ]);
      expect(programs.stderr).toBe('');
      expect(programs.stdout).toBe('42\nagent:x:1000:1000:agent:/home/agent:/bin/bash\n127.0.0.1       localhost hangar\nhangar\nhangar\n1\n0\n');
      // The binds of /etc and /proc show the sandbox's own filesystem, never the host's data directory.
      const mountinfo = await sandbox.exec('cat', ['/proc/self/mountinfo']);
      expect(mountinfo.stdout).not.toContain(path.dirname(sandbox.hostDir));
    });
  });

  it('hides root-only and unbound host files', async () => {
    const hostDir = await newDir('hangar-host-file-');
    await chmod(hostDir, 0o755);
    const hostFile = path.join(hostDir, 'secret.txt');
    await writeFile(hostFile, 'host secret', { mode: 0o644 });
    await withSandbox({}, async (sandbox) => {
      const shadow = await sandbox.exec('cat', ['/etc/shadow']);
      expect(shadow.exitCode).not.toBe(0);
      expect(shadow.stderr).toMatch(/No such file/);
      expect((await sandbox.exec('ls', ['/root'])).exitCode).not.toBe(0);
      const unbound = await sandbox.exec('cat', [hostFile]);
      expect(unbound.exitCode).not.toBe(0);
      expect(unbound.stdout).not.toContain('host secret');
      expect((await sandbox.exec('ls', [path.dirname(CLAUDE_DIR)])).exitCode).not.toBe(0);
      expect((await sandbox.exec('ls', [sandbox.hostDir])).exitCode).not.toBe(0);
      // The passwd file inside is the sandbox's own.
      expect((await sandbox.exec('cat', ['/etc/passwd'])).stdout).not.toContain('root:');
    });
  });

  it('lets nothing be written outside workspace, HOME and /tmp', async () => {
    await withSandbox({}, async (sandbox) => {
      const found = await sandbox.exec('sh', [
        '-c',
        'find / \\( -path /proc -o -path /sys \\) -prune -o \\( -type d -o -type f \\) -writable -print 2>/dev/null; exit 0',
      ]);
      const writable = found.stdout.split('\n').filter(Boolean);
      const outside = writable.filter(
        (entry) => !ALLOWED_DEVICES.includes(entry) && !ALLOWED_WRITABLE.some((allowed) => entry === allowed || entry.startsWith(`${allowed}/`)),
      );
      expect(outside).toEqual([]);
      const probes = ['/', '/usr', '/etc', '/home', '/run', '/dev', '/var', '/opt', '/bin', '/lib', '/workspace', '/home/agent', '/tmp'];
      const touched = await sandbox.exec('sh', ['-c', `for d in ${probes.join(' ')}; do touch "$d/.hangar-probe" 2>/dev/null && echo "$d"; done; exit 0`]);
      expect(touched.stdout.split('\n').filter(Boolean)).toEqual(['/workspace', '/home/agent', '/tmp']);
    });
  });

  it('has no network but loopback', async () => {
    let connections = 0;
    const server = net.createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const abstractName = `hangar-test-${randomBytes(4).toString('hex')}`;
    const abstractServer = net.createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => abstractServer.listen(`\0${abstractName}`, resolve));
    try {
      await withSandbox({}, async (sandbox) => {
        const tcp = await sandbox.exec('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`], { env: ENV });
        expect(tcp.exitCode).not.toBe(0);
        const abstract = await sandbox.exec('socat', ['-u', 'OPEN:/dev/null', `ABSTRACT-CONNECT:${abstractName}`], { env: ENV });
        expect(abstract.exitCode).not.toBe(0);
        const interfaces = (await sandbox.exec('cat', ['/proc/net/dev'])).stdout.split('\n').slice(2).filter(Boolean);
        expect(interfaces.map((line) => line.trim().split(':')[0])).toEqual(['lo']);
        const loopback = await sandbox.exec(
          'sh',
          ['-c', 'socat TCP-LISTEN:7000,bind=127.0.0.1 SYSTEM:"echo inner" & sleep 0.2; socat - TCP:127.0.0.1:7000 </dev/null'],
          { env: ENV },
        );
        expect(loopback.stdout).toBe('inner\n');
      });
      expect(connections).toBe(0);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await new Promise((resolve) => abstractServer.close(resolve));
    }
  });

  it('reaches a host unix socket through a bridge and leaves no helper behind', async () => {
    const bridgeServer = await startBridgeServer();
    try {
      await withSandbox({ bridges: [{ name: 'gateway', hostSocketPath: bridgeServer.socketPath, port: 18080 }] }, async (sandbox) => {
        const started = performance.now();
        const result = await sandbox.exec('bash', ['-c', 'exec 3<>/dev/tcp/127.0.0.1/18080; echo ping >&3; read -r line <&3; echo "$line"'], { env: ENV });
        console.log(`bridge exec round trip: ${(performance.now() - started).toFixed(1)} ms`);
        expect(result).toMatchObject({ exitCode: 0, stdout: 'pong:ping\n' });
        expect(await eventually(async () => (await sandbox.hostPids()).length === 0)).toBe(true);

        const child = sandbox.spawn({ command: 'sleep', args: ['60'], env: ENV });
        const exited = exitOf(child);
        expect(
          await eventually(async () => {
            const comms = await Promise.all((await sandbox.hostPids()).map((pid) => readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')));
            return comms.some((comm) => comm.trim() === 'socat') && comms.some((comm) => comm.trim() === 'sleep');
          }),
        ).toBe(true);
        const pids = await sandbox.hostPids();
        child.kill('SIGTERM');
        await exited;
        expect(await eventually(async () => (await sandbox.hostPids()).length === 0)).toBe(true);
        expect(await waitAllGone(pids)).toEqual([]);
      });
    } finally {
      await bridgeServer.close();
    }
  });

  it('OOM-kills a memory hog and counts it', async () => {
    await withSandbox({ resources: { memoryMb: 64 } }, async (sandbox) => {
      const result = await sandbox.exec('tail', ['/dev/zero'], { timeoutMs: 30_000 });
      expect(result.exitCode).toBe(137);
      const stats = await sandbox.stats();
      expect(stats.oomKills).toBeGreaterThanOrEqual(1);
      expect(stats.memoryPeakBytes).toBeGreaterThan(32 * 1024 * 1024);
      expect((await sandbox.exec('true', [])).exitCode).toBe(0);
    });
  });

  it('holds a fork bomb at the pids limit and cleans it up', async () => {
    const sandbox = await provider.create({ resources: { ...resources, pids: 64 }, bridges: [] });
    const pidsDir = sandbox.cgroupPaths.find((dir) => dir.includes('/pids/') || !dir.includes('/sys/fs/cgroup/'));
    // bash retries failed forks, so the bomb keeps the group full until it is killed.
    const child = sandbox.spawn({ command: 'bash', args: ['-c', 'bomb() { while :; do bomb & done; }; bomb'], env: ENV });
    const exited = exitOf(child);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const stats = await sandbox.stats();
    expect(stats.processCount).toBeLessThanOrEqual(64);
    expect(stats.processCount).toBeGreaterThan(32);
    if (pidsDir?.includes('/pids/')) {
      const events = await readFile(path.join(pidsDir, 'pids.events'), 'utf8');
      expect(Number(/max (\d+)/.exec(events)?.[1] ?? 0)).toBeGreaterThan(0);
    }
    // The host still starts processes.
    expect(execFileSync('echo', ['host alive'], { encoding: 'utf8' })).toBe('host alive\n');
    const pids = await sandbox.hostPids();
    const started = performance.now();
    await sandbox.destroy();
    console.log(`destroy under a fork bomb (${pids.length} processes): ${(performance.now() - started).toFixed(1)} ms`);
    await exited;
    await assertLocalSandboxGone(sandbox, pids);
  });

  it('holds a busy loop to the cpu quota', async () => {
    await withSandbox({ resources: { cpus: 0.2 } }, async (sandbox) => {
      const child = sandbox.spawn({ command: 'sh', args: ['-c', 'echo ready; while :; do :; done'], env: ENV });
      const exited = exitOf(child);
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      // CPU time of every process in the sandbox (the loop, its shell launcher and bubblewrap) over
      // at least a second of wall time, so a few 100 ms quota periods pass.
      const pids = await sandbox.hostPids();
      const cpuAtStart = (await Promise.all(pids.map(cpuSecondsOf))).reduce((a, b) => a + b, 0);
      const started = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const cpuAtEnd = (await Promise.all(pids.map(cpuSecondsOf))).reduce((a, b) => a + b, 0);
      const wall = (performance.now() - started) / 1000;
      child.kill('SIGKILL');
      await exited;
      const share = (cpuAtEnd - cpuAtStart) / wall;
      console.log(
        `busy loop with cpus 0.2 (${backing}): ${(cpuAtEnd - cpuAtStart).toFixed(2)} s of cpu in ${wall.toFixed(2)} s of wall time (${share.toFixed(2)} cores)`,
      );
      // A loaded machine may give the loop less than its quota, never more; one clock tick of slack.
      expect(share).toBeLessThanOrEqual(0.3);
      expect(cpuAtEnd - cpuAtStart).toBeGreaterThan(0);
    });
  });

  it.runIf(backing === 'ext4')('stores more than the memory limit in the workspace without an OOM kill, then fails with ENOSPC past diskMb', async () => {
    await withSandbox({ resources: { memoryMb: 256, diskMb: 1024 } }, async (sandbox) => {
      const first = await sandbox.exec('dd', ['if=/dev/zero', 'of=/workspace/first.bin', 'bs=1M', 'count=600', 'status=none'], { timeoutMs: 120_000 });
      expect(first, first.stderr).toMatchObject({ exitCode: 0, signal: null });
      expect((await sandbox.exec('stat', ['-c', '%s', '/workspace/first.bin'])).stdout.trim()).toBe(String(600 * 1024 * 1024));
      const stats = await sandbox.stats();
      expect(stats.oomKills).toBe(0);
      expect(stats.memoryPeakBytes ?? 0).toBeLessThanOrEqual(256 * 1024 * 1024);
      // 600 MiB more does not fit in a 1024 MiB workspace.
      const second = await sandbox.exec('dd', ['if=/dev/zero', 'of=/workspace/second.bin', 'bs=1M', 'count=600', 'status=none'], { timeoutMs: 120_000 });
      expect(second.exitCode).not.toBe(0);
      expect(second.stderr).toMatch(/No space left on device/);
      const written = Number((await sandbox.exec('stat', ['-c', '%s', '/workspace/second.bin'])).stdout.trim());
      expect(written).toBeGreaterThan(300 * 1024 * 1024);
      expect(written).toBeLessThan(424 * 1024 * 1024);
      expect((await sandbox.stats()).oomKills).toBe(0);
      // The scratch area is its own filesystem: HOME and /tmp still take writes.
      expect((await sandbox.exec('sh', ['-c', 'echo ok > /tmp/after && echo ok > "$HOME/after"'], { env: ENV })).exitCode).toBe(0);
    });
  });

  it('fails writes beyond the disk limit with ENOSPC, keeping HOME and /tmp usable', async () => {
    await withSandbox({ resources: { diskMb: 16 } }, async (sandbox) => {
      const dd = await sandbox.exec('dd', ['if=/dev/zero', 'of=/workspace/big', 'bs=1M', 'count=64']);
      expect(dd.exitCode).not.toBe(0);
      expect(dd.stderr).toMatch(/No space left on device/);
      // HOME and /tmp are on their own filesystem: the CLI's state survives a full workspace.
      const scratch = await sandbox.exec('sh', ['-c', 'head -c 1048576 /dev/zero > /tmp/more && echo ok > "$HOME/state"'], { env: ENV });
      expect(scratch.exitCode).toBe(0);
      const tmpFull = await sandbox.exec('dd', ['if=/dev/zero', 'of=/tmp/big', 'bs=1M', 'count=64']);
      expect(tmpFull.stderr).toMatch(/No space left on device/);
      const error = await sandbox.writeFile('host-big.bin', Buffer.alloc(4 * 1024 * 1024)).catch((reason: unknown) => reason);
      expect(isHangarError(error) && error.code).toBe('SANDBOX_FAILED');
      expect(isHangarError(error) && error.details).toEqual({ errno: 'ENOSPC' });
    });
  });

  it('leaves no process, cgroup, mount or directory after destroy', async () => {
    const sandbox = await provider.create({ resources, bridges: [] });
    const child = sandbox.spawn({ command: 'sh', args: ['-c', 'sleep 60 & sleep 60 & echo ready; wait'], env: ENV });
    const exited = exitOf(child);
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const pids = await sandbox.hostPids();
    expect(pids.length).toBeGreaterThanOrEqual(4);
    const mountsBefore = await readFile('/proc/self/mountinfo', 'utf8');
    expect(mountsBefore).toContain(sandbox.hostDir);
    await sandbox.destroy();
    expect(await exited).toMatchObject({ signal: 'SIGKILL' });
    await assertLocalSandboxGone(sandbox, pids);
  });

  it('keeps host env out and env values out of host argv', async () => {
    const hostSecret = `host-${randomBytes(8).toString('hex')}`;
    const token = `token-${randomBytes(8).toString('hex')}`;
    process.env.HANGAR_ISOLATION_SECRET = hostSecret;
    try {
      await withSandbox({}, async (sandbox) => {
        const env = { ...ENV, SESSION_TOKEN: token };
        const child = sandbox.spawn({ command: 'sh', args: ['-c', 'echo ready; exec sleep 60'], env });
        const exited = exitOf(child);
        await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
        for (const pid of await sandbox.hostPids()) {
          const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
          expect(cmdline).not.toContain(token);
          expect(cmdline).not.toContain(hostSecret);
        }
        if (child.pid !== undefined) expect(await readFile(`/proc/${child.pid}/environ`, 'utf8')).not.toContain(token);
        const seen = await sandbox.exec('sh', ['-c', 'env; for f in /proc/[0-9]*/environ; do tr "\\0" "\\n" < "$f"; done'], { env });
        expect(seen.stdout).toContain(token);
        expect(seen.stdout).not.toContain(hostSecret);
        expect(seen.stdout).not.toContain('HANGAR_ISOLATION_SECRET');
        child.kill('SIGKILL');
        await exited;
      });
    } finally {
      delete process.env.HANGAR_ISOLATION_SECRET;
    }
  });

  it('runs the Claude Code CLI binary from a read-only path with 1 GiB and 512 pids', async () => {
    const claude = path.join(CLAUDE_DIR, 'claude');
    await withSandbox({ resources: { memoryMb: 1024, pids: 512 }, readOnlyPaths: [CLAUDE_DIR] }, async (sandbox) => {
      const inside: number[] = [];
      const outside: number[] = [];
      let version = '';
      for (let run = 0; run < 3; run += 1) {
        let started = performance.now();
        const result = await sandbox.exec(claude, ['--version'], { env: ENV });
        inside.push(performance.now() - started);
        expect(result.exitCode, result.stderr).toBe(0);
        version = result.stdout.trim();
        started = performance.now();
        await execFileAsync(claude, ['--version'], { env: ENV });
        outside.push(performance.now() - started);
      }
      expect(version).toContain('Claude Code');
      const median = (values: number[]): string => ([...values].sort((a, b) => a - b)[1] ?? 0).toFixed(0);
      console.log(`claude --version (${version}): inside ${median(inside)} ms, outside ${median(outside)} ms (median of 3)`);
      const write = await sandbox.exec('touch', [path.join(CLAUDE_DIR, 'x')]);
      expect(write.exitCode).not.toBe(0);
    });
  });
});
