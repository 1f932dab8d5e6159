// Runs the SandboxProvider contract against the local provider (bubblewrap + cgroups, with ext4 and
// with tmpfs workspaces), plus the local provider's own behaviour: host-side file safety, preflight
// errors, output caps, timing, crash leftovers, mounts and loop devices, close() during creates.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, statfs, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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
import type { SandboxResources } from '../../../../src/sandbox/sandbox-provider.js';
import { runSandboxProviderContract } from '../../../contracts/sandbox-provider.contract.js';
import { assertLocalSandboxGone, exitOf, loopDevicesUnder, mountPoints, waitAllGone } from '../../../helpers/sandbox-host.js';
import { useTempDirs } from '../../../helpers/temp-dirs.js';

const execFileAsync = promisify(execFile);
const resources: SandboxResources = { memoryMb: 256, cpus: 1, diskMb: 64, pids: 128 };
const BACKINGS: WorkspaceBacking[] = ['ext4', 'tmpfs'];
/** A new sandbox root dir, removed after the file's tests. */
const newRoot = useTempDirs();

async function newProvider(workspaceBacking?: WorkspaceBacking): Promise<LocalSandboxProvider> {
  const rootDir = await newRoot();
  return createLocalSandboxProvider(workspaceBacking === undefined ? { rootDir, warmPoolSize: 0 } : { rootDir, workspaceBacking, warmPoolSize: 0 });
}

for (const backing of BACKINGS) {
  runSandboxProviderContract(`local (${backing})`, () => newProvider(backing), { resources, assertGone: (sandbox) => assertLocalSandboxGone(sandbox) });
}
// The same contract when sandboxes come from the warm pool (their first spawn uses the prelaunched launcher).
runSandboxProviderContract('local (ext4, warm pool)', async () => createLocalSandboxProvider({ rootDir: await newRoot(), warmPoolSize: 2 }), {
  resources,
  assertGone: (sandbox) => assertLocalSandboxGone(sandbox),
});

describe('local sandbox provider: warm pool', () => {
  /** Sends `input` and ends stdin; resolves with the exit code and the whole stdout once both are in. */
  const finished = (child: ReturnType<LocalSandbox['spawn']>, input = ''): Promise<{ code: number | null; stdout: string }> => {
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.stdin.end(input);
    return new Promise((resolve) => child.once('close', (code: number | null) => resolve({ code, stdout })));
  };
  /** Teaches the provider the test shape (one sandbox made and destroyed) and waits for its pool to fill. */
  const fillPool = async (provider: LocalSandboxProvider): Promise<void> => {
    await (await provider.create({ resources, bridges: [] })).destroy();
    await provider.settled();
  };
  const cgroupFile = (sandbox: LocalSandbox, controller: string, file: string): Promise<string> => {
    const dir = sandbox.cgroupPaths.find((candidate) => candidate.includes(`/${controller}/`));
    if (dir === undefined) throw new Error(`no ${controller} cgroup for ${sandbox.id}`);
    return readFile(path.join(dir, file), 'utf8').then((text) => text.trim());
  };

  it('hands out a ready sandbox with the asked limits; its first spawn runs in the prelaunched launcher', async () => {
    const rootDir = await newRoot();
    const socketDir = await mkdtemp(path.join(tmpdir(), 'hangar-warm-bridge-'));
    await chmod(socketDir, 0o711);
    const socketPath = path.join(socketDir, 'gw.sock');
    const bridged: string[] = [];
    const server = net.createServer((socket) =>
      socket
        .once('data', (data) => {
          bridged.push(data.toString());
          socket.end('ack\n');
        })
        .on('error', () => undefined),
    );
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    await chmod(socketPath, 0o666);
    const provider = createLocalSandboxProvider({ rootDir, warmPoolSize: 1 });
    const bridges = [{ name: 'gw', hostSocketPath: socketPath, port: 4200 }];
    try {
      const cold = await provider.create({ resources, bridges });
      await provider.settled();
      expect(provider.warmSandboxes).toBe(1);
      const [waiting] = (await readdir(rootDir)).filter((entry) => !entry.startsWith('.') && entry !== cold.id);
      expect(waiting).toBeDefined();
      // While it waits in the pool, it gets CPU only when running sandboxes leave some.
      expect(await readFile(`/sys/fs/cgroup/cpu/hangar/${waiting}/cpu.shares`, 'utf8').then((text) => text.trim())).toBe('2');

      const asked = { memoryMb: 192, cpus: 0.5, diskMb: resources.diskMb, pids: 96 };
      const warm = await provider.create({ resources: asked, bridges });
      expect(warm.id).toBe(waiting);
      expect(await cgroupFile(warm, 'memory', 'memory.limit_in_bytes')).toBe(String(192 * 1024 * 1024));
      expect(await cgroupFile(warm, 'cpu', 'cpu.cfs_quota_us')).toBe('50000');
      expect(await cgroupFile(warm, 'cpu', 'cpu.shares')).toBe('1024');
      expect(await cgroupFile(warm, 'pids', 'pids.max')).toBe('96');

      const launcherPids = await warm.hostPids();
      await warm.exec('mkdir', ['-p', 'sub dir']);
      // A helper process leaves the waiting launcher to the main one.
      const helper = warm.spawn({ command: 'true', args: [], env: {}, auxiliary: true });
      expect(launcherPids).not.toContain(helper.pid);
      expect((await finished(helper)).code).toBe(0);
      expect(warm.warmLauncherReady).toBe(true);
      const stderr: string[] = [];
      const child = warm.spawn({
        command: '/bin/bash',
        // The bridge listens from the first instant: the launcher waited for it before the command came.
        args: [
          '-c',
          'pwd; printf "<%s>\\n" "$@"; env; exec 3<>/dev/tcp/127.0.0.1/4200; echo bridged >&3; read -r reply <&3; echo "$reply"; echo to-stderr >&2; cat',
          'name',
          'two words',
          'new\nline',
          "it's",
        ],
        env: { GREETING: 'hello world', MULTI: 'a\nb', EQUALS: 'x=y' },
        cwd: '/workspace/sub dir',
        onStderr: (chunk) => stderr.push(chunk),
      });
      // The process is the launcher that was already running: same host pid.
      expect(launcherPids).toContain(child.pid);
      const { code, stdout } = await finished(child, 'from stdin\n');
      expect(code).toBe(0);
      const lines = stdout.split('\n');
      expect(lines[0]).toBe('/workspace/sub dir');
      expect(lines.slice(1, 5)).toEqual(['<two words>', '<new', 'line>', "<it's>"]);
      const env = stdout.slice(stdout.indexOf("<it's>") + 7, stdout.indexOf('ack\n'));
      expect(env).toContain('EQUALS=x=y\n');
      expect(env).toContain('GREETING=hello world\n');
      expect(env).toContain('MULTI=a\nb\n');
      expect(env).toContain('HOME=/home/agent\n');
      expect(env).not.toMatch(/^(OLDPWD|BASH_\w*)=/m);
      expect(stdout.endsWith('ack\nfrom stdin\n')).toBe(true);
      expect(stderr.join('')).toBe('to-stderr\n');
      expect(bridged).toEqual(['bridged\n']);

      // The second spawn of the same sandbox is an ordinary launch.
      expect((await warm.exec('sh', ['-c', 'echo $GREETING'], { env: { GREETING: 'again' } })).stdout).toBe('again\n');
      for (const sandbox of [cold, warm]) {
        await sandbox.destroy();
        await assertLocalSandboxGone(sandbox);
      }
    } finally {
      await provider.close();
      server.close();
      await rm(socketDir, { recursive: true, force: true });
    }
    expect(await readdir(rootDir)).toEqual([]);
    expect((await mountPoints()).filter((point) => point.startsWith(`${rootDir}/`))).toEqual([]);
  });

  it('serves a spawn with a directory to copy in from the waiting launcher, at the same path', async () => {
    const provider = createLocalSandboxProvider({ rootDir: await newRoot(), warmPoolSize: 1 });
    const shared = await mkdtemp('/tmp/hangar-warm-shared-');
    try {
      await fillPool(provider);
      const warm = await provider.create({ resources, bridges: [] });
      const waiting = await warm.hostPids();
      await mkdir(path.join(shared, 'projects'));
      await writeFile(path.join(shared, 'projects', 'note.txt'), 'shared');
      const child = warm.spawn({
        command: 'sh',
        args: ['-c', 'cat "$1/projects/note.txt" && echo appended >> "$1/projects/note.txt" && stat -c %U "$1"', 'sh', shared],
        env: {},
        copyIntoTmp: shared,
      });
      expect(waiting).toContain(child.pid);
      const { code, stdout } = await finished(child);
      expect(code).toBe(0);
      // Seen at the same path, owned by the sandbox user; the host's directory is left as it was.
      expect(stdout).toBe('sharedagent\n');
      expect(await readFile(path.join(shared, 'projects', 'note.txt'), 'utf8')).toBe('shared');
      expect((await stat(shared)).uid).toBe(0);
      await warm.destroy();
      await assertLocalSandboxGone(warm);
    } finally {
      await provider.close();
      await rm(shared, { recursive: true, force: true });
    }
  });

  it('refuses to copy into a path the sandbox planted a link at, and writes nothing through it', async () => {
    const provider = createLocalSandboxProvider({ rootDir: await newRoot(), warmPoolSize: 1 });
    const shared = await mkdtemp('/tmp/hangar-warm-planted-');
    const bait = await mkdtemp('/tmp/hangar-warm-bait-');
    try {
      await fillPool(provider);
      const warm = await provider.create({ resources, bridges: [] });
      await writeFile(path.join(shared, 'note.txt'), 'shared');
      // A process of the sandbox points the path the copy will take at another directory.
      const planted = await warm.exec('ln', ['-s', bait, shared]);
      expect(planted.exitCode).toBe(0);
      expect(warm.warmLauncherReady).toBe(true);
      const child = warm.spawn({ command: 'true', args: [], env: {}, copyIntoTmp: shared });
      expect((await finished(child)).code).toBe(125);
      // Nothing was written through the link, on the host or inside.
      expect(await readdir(bait)).toEqual([]);
      expect((await warm.exec('sh', ['-c', `ls -A ${bait} 2>&1 | head -1`])).stdout).toMatch(/No such file|^$/);
      await warm.destroy();
    } finally {
      await provider.close();
      await rm(shared, { recursive: true, force: true });
      await rm(bait, { recursive: true, force: true });
    }
  });

  it('gives way to a sandbox someone asks for when warm sandboxes hold the last uids', async () => {
    const provider = createLocalSandboxProvider({ rootDir: await newRoot(), warmPoolSize: 2, uidRangeStart: 303000, uidRangeSize: 2 });
    try {
      await fillPool(provider);
      expect(provider.warmSandboxes).toBe(2);
      // Both uids are held by warm sandboxes; a sandbox with an id never comes from the pool.
      const named = await provider.create({ id: 'asked-for', resources, bridges: [] });
      expect(named.id).toBe('asked-for');
      expect(provider.warmSandboxes).toBe(1);
      expect((await named.exec('id', ['-u'])).stdout).toBe('1000\n');
      await named.destroy();
    } finally {
      await provider.close();
    }
  });

  it('never hands out a sandbox whose launcher died, nor takes the pool for a sandbox with an id', async () => {
    const rootDir = await newRoot();
    const provider = createLocalSandboxProvider({ rootDir, warmPoolSize: 1 });
    try {
      await fillPool(provider);
      const [waiting] = (await readdir(rootDir)).filter((entry) => !entry.startsWith('.'));
      expect(waiting).toBeDefined();
      const named = await provider.create({ id: 'named-sandbox', resources, bridges: [] });
      expect(named.id).toBe('named-sandbox');
      expect(provider.warmSandboxes).toBe(1);
      // Kill the waiting launcher from the host.
      for (const pid of (await readFile(`/sys/fs/cgroup/pids/hangar/${waiting}/cgroup.procs`, 'utf8')).split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // Gone already: killing bubblewrap ends the processes under it.
        }
      }
      expect(await eventually(async () => (await readFile(`/sys/fs/cgroup/pids/hangar/${waiting}/cgroup.procs`, 'utf8')).trim() === '')).toBe(true);
      const next = await provider.create({ resources, bridges: [] });
      expect(next.id).not.toBe(waiting);
      const child = next.spawn({ command: 'echo', args: ['works'], env: {} });
      expect(await finished(child)).toEqual({ code: 0, stdout: 'works\n' });
      await provider.settled();
      expect(existsSync(path.join(rootDir, waiting!))).toBe(false);
      await next.destroy();
      await named.destroy();
    } finally {
      await provider.close();
    }
  });
});

describe('local sandbox provider', () => {
  let provider: LocalSandboxProvider;

  beforeAll(async () => {
    provider = await newProvider();
  });

  afterAll(async () => {
    await provider?.close();
  });

  it('fails with SANDBOX_UNAVAILABLE naming the package when bubblewrap is missing', async () => {
    const rootDir = await newRoot();
    const broken = createLocalSandboxProvider({ rootDir, bwrapPath: '/nonexistent/bwrap', warmPoolSize: 0 });
    const error = await broken.create({ resources, bridges: [] }).catch((reason: unknown) => reason);
    expect(isHangarError(error) && error.code).toBe('SANDBOX_UNAVAILABLE');
    expect((error as Error).message).toContain('apt-get install bubblewrap');
    await broken.close();
  });

  it('leaves a cgroup hierarchy mounted with favordynmods once it has created a sandbox', async () => {
    await (await provider.create({ resources, bridges: [] })).destroy();
    const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
    const favoring = mountinfo.split('\n').filter((line) => / - cgroup2? \S+ \S*\bfavordynmods\b/.test(line));
    expect(favoring.length, mountinfo).toBeGreaterThan(0);
  });

  it('works under a rootDir with spaces in its path', async () => {
    const parent = await newRoot();
    await chmod(parent, 0o755);
    const spaced = createLocalSandboxProvider({ rootDir: path.join(parent, 'sand boxes'), warmPoolSize: 0 });
    try {
      const sandbox = await spaced.create({ resources, bridges: [] });
      await sandbox.writeFile('a.txt', 'spaced');
      expect((await sandbox.exec('cat', ['a.txt'])).stdout).toBe('spaced');
      await sandbox.destroy();
      await assertLocalSandboxGone(sandbox);
    } finally {
      await spaced.close();
    }
  });

  it('never follows symlinks or opens special files from the host side', async () => {
    const sandbox = await provider.create({ resources, bridges: [] });
    try {
      const made = await sandbox.exec('sh', ['-c', 'ln -s /etc/shadow leak && ln -s /etc etcdir && mkdir d && ln -s /root d/up && mkfifo fifo']);
      expect(made.exitCode).toBe(0);
      for (const target of ['leak', 'etcdir/hostname', 'd/up/x', 'fifo']) {
        const error = await sandbox.readFile(target).catch((reason: unknown) => reason);
        expect(isHangarError(error) && error.code, target).toBe('VALIDATION_FAILED');
      }
      for (const target of ['leak', 'etcdir/hangar-escape', 'd/up/hangar-escape']) {
        const error = await sandbox.writeFile(target, 'x').catch((reason: unknown) => reason);
        expect(isHangarError(error) && error.code, target).toBe('VALIDATION_FAILED');
      }
      await expect(stat('/etc/hangar-escape')).rejects.toThrow();
      await expect(stat('/root/hangar-escape')).rejects.toThrow();
      expect(await sandbox.listFiles()).toEqual([]);
    } finally {
      await sandbox.destroy();
    }
  });

  it('gives written files to the sandbox user', async () => {
    const sandbox = await provider.create({ resources, bridges: [] });
    try {
      await sandbox.writeFile('dir/file.txt', 'x');
      expect((await stat(path.join(sandbox.hostDir, 'workspace/dir/file.txt'))).uid).toBe(sandbox.hostUid);
      expect((await stat(path.join(sandbox.hostDir, 'workspace/dir'))).uid).toBe(sandbox.hostUid);
      const inside = await sandbox.exec('sh', ['-c', 'stat -c "%U %a" dir dir/file.txt && echo more >> dir/file.txt']);
      expect(inside).toMatchObject({ exitCode: 0, stdout: 'agent 755\nagent 644\n' });
    } finally {
      await sandbox.destroy();
    }
  });

  it('copies a root-owned host temp directory into the sandbox at the same path, whatever its size, and never shows or changes the host one', async () => {
    const sandbox = await provider.create({ resources, bridges: [] });
    const shared = await mkdtemp('/tmp/hangar-copied-');
    try {
      await writeFile(path.join(shared, 'given.txt'), 'from the host\n');
      await writeFile(path.join(shared, '.credentials.json'), '{"secret":"host"}');
      // Larger than anything worth copying on the event loop: it travels as a tar stream.
      await writeFile(path.join(shared, 'big.bin'), Buffer.alloc(24 * 1024 * 1024, 7));
      const child = sandbox.spawn({
        command: 'sh',
        args: ['-c', `cat ${shared}/given.txt && stat -c '%U %s' ${shared}/big.bin && ls -A ${shared} && echo "from inside" > ${shared}/written.txt && id -u`],
        env: {},
        copyIntoTmp: shared,
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stdin.end();
      expect((await exitOf(child)).code).toBe(0);
      expect(output).toBe(`from the host\nagent ${24 * 1024 * 1024}\nbig.bin\ngiven.txt\n1000\n`);
      // The host directory is as it was: still root's, nothing written into it.
      expect((await readdir(shared)).sort()).toEqual(['.credentials.json', 'big.bin', 'given.txt']);
      expect((await stat(shared)).uid).toBe(0);
      // Only root-owned directories directly under /tmp are copied.
      expect(() => sandbox.spawn({ command: 'true', args: [], env: {}, copyIntoTmp: '/etc' })).toThrow(/directly under \/tmp/);
      await chown(shared, sandbox.hostUid, sandbox.hostUid);
      expect(() => sandbox.spawn({ command: 'true', args: [], env: {}, copyIntoTmp: shared })).toThrow(/owned by uid/);
    } finally {
      await sandbox.destroy();
      await rm(shared, { recursive: true, force: true });
    }
  });

  it('caps collected exec output', async () => {
    const sandbox = await provider.create({ resources, bridges: [] });
    try {
      const result = await sandbox.exec('head', ['-c', '3000000', '/dev/zero']);
      expect(result.exitCode).toBe(0);
      expect(result.stdout.length).toBeGreaterThanOrEqual(1024 * 1024);
      expect(result.stdout.length).toBeLessThan(1024 * 1024 + 200);
      expect(result.stdout).toContain('output truncated');
    } finally {
      await sandbox.destroy();
    }
  });

  it('lends a read-only host directory that lives under the host /tmp, at the same path', async () => {
    const lent = await mkdtemp(path.join(tmpdir(), 'hangar-lent-'));
    await chmod(lent, 0o755);
    await writeFile(path.join(lent, 'tool.sh'), 'echo lent tool\n');
    const sandbox = await provider.create({ resources, bridges: [], readOnlyPaths: [lent] });
    try {
      const result = await sandbox.exec('sh', ['-c', `sh ${lent}/tool.sh && (touch ${lent}/x 2>&1 || true)`]);
      expect(result.stdout).toMatch(/^lent tool\n.*Read-only file system/s);
      // The sandbox's own /tmp is still its own and writable.
      expect((await sandbox.exec('sh', ['-c', 'touch /tmp/mine && echo ok'])).stdout).toBe('ok\n');
    } finally {
      await sandbox.destroy();
      await rm(lent, { recursive: true, force: true });
    }
  });

  it('checks readOnlyPaths and bridge sockets before creating anything', async () => {
    const missing = await provider.create({ resources, bridges: [], readOnlyPaths: ['/nonexistent/dir'] }).catch((reason: unknown) => reason);
    expect(isHangarError(missing) && missing.code).toBe('VALIDATION_FAILED');
    const overlap = await provider.create({ resources, bridges: [], readOnlyPaths: ['/workspace'] }).catch((reason: unknown) => reason);
    expect(isHangarError(overlap) && overlap.code).toBe('VALIDATION_FAILED');

    const dir = await newRoot('hangar-bridge-');
    await chmod(dir, 0o755);
    const socketPath = path.join(dir, 'closed.sock');
    const server = net.createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      await chmod(socketPath, 0o755);
      const closed = await provider.create({ resources, bridges: [{ name: 'gw', hostSocketPath: socketPath, port: 4100 }] }).catch((reason: unknown) => reason);
      expect(isHangarError(closed) && closed.code).toBe('SANDBOX_FAILED');
      expect((closed as Error).message).toContain('chmod 0666');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

/** The p50 and p95 of create+destroy over `runs` runs (after one warm-up). */
async function createDestroyTimes(provider: LocalSandboxProvider, runs: number): Promise<{ p50: number; p95: number }> {
  await (await provider.create({ resources, bridges: [] })).destroy();
  const times: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const started = performance.now();
    const sandbox = await provider.create({ resources, bridges: [] });
    await sandbox.destroy();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.ceil(runs * 0.5) - 1] ?? 0, p95: times[Math.ceil(runs * 0.95) - 1] ?? 0 };
}

/** Entries of a root dir that are pool directories (prepared ext4 image pairs) with a name prefix. */
async function poolDirs(rootDir: string, prefix = '.pool-'): Promise<string[]> {
  return (await readdir(rootDir)).filter((entry) => entry.startsWith(prefix));
}

/** Waits until `predicate` holds, polling every 20 ms (bounded). */
async function eventually(predicate: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return predicate();
}

/** Cgroup directories a sandbox id would have (any hierarchy). */
function cgroupDirsOf(id: string): string[] {
  return ['memory', 'cpu', 'pids', 'freezer', 'unified', '']
    .map((hierarchy) => path.join('/sys/fs/cgroup', hierarchy, 'hangar', id))
    .filter((dir) => existsSync(dir));
}

describe.each(BACKINGS)('local sandbox provider with %s workspaces', (backing) => {
  let provider: LocalSandboxProvider;

  beforeAll(async () => {
    provider = await newProvider(backing);
  });

  afterAll(async () => {
    await provider?.close();
  });

  it('creates and destroys 50 sandboxes in a row, leaving nothing behind (speed is measured by npm run bench)', async () => {
    const rootDir = await newRoot();
    const own = createLocalSandboxProvider({ rootDir, workspaceBacking: backing, warmPoolSize: 0 });
    try {
      const { p50, p95 } = await createDestroyTimes(own, 50);
      console.log(`local sandbox (${backing}) create+destroy over 50 runs: p50 ${p50.toFixed(2)} ms, p95 ${p95.toFixed(2)} ms`);
      await own.settled();
      // Only prepared image pairs (dot directories) remain: no sandbox directory, mount or cgroup.
      expect((await readdir(rootDir)).filter((entry) => !entry.startsWith('.'))).toEqual([]);
      expect((await mountPoints()).filter((point) => point.startsWith(`${rootDir}/sbx-`))).toEqual([]);
    } finally {
      await own.close();
    }
  });

  it("kills a crashed process's sandbox processes and sweeps its leftovers on the next start", async () => {
    const rootDir = await newRoot();
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../helpers/sandbox-crash-child.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', script, rootDir, backing], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = exitOf(child);
    const line = await new Promise<string>((resolve, reject) => {
      let buffered = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        buffered += chunk;
        if (buffered.includes('\n')) resolve(buffered.split('\n')[0] ?? '');
      });
      child.once('exit', () => reject(new Error('crash child exited early')));
    });
    const left = JSON.parse(line) as { id: string; hostDir: string; hostUid: number; cgroupPaths: string[]; pids: number[] };
    expect(left.pids.length).toBeGreaterThan(0);
    // ext4: the child also prepared image pairs ahead of need, mounted in its pool directories.
    const childPool = `.pool-${child.pid}-`;
    if (backing === 'ext4') expect(await eventually(async () => (await poolDirs(rootDir, childPool)).length === 2)).toBe(true);
    child.kill('SIGKILL');
    await exited;
    // --die-with-parent: the sandbox's processes die with the process that started them.
    expect(await waitAllGone(left.pids)).toEqual([]);
    expect(existsSync(left.hostDir)).toBe(true);
    expect(existsSync(left.cgroupPaths[0] ?? '')).toBe(true);
    expect((await mountPoints()).includes(path.join(left.hostDir, 'workspace'))).toBe(true);
    expect(await loopDevicesUnder(left.hostDir)).toHaveLength(backing === 'ext4' ? 2 : 0);

    const next = createLocalSandboxProvider({ rootDir, workspaceBacking: backing, warmPoolSize: 0 });
    const sandbox = await next.create({ resources, bridges: [] });
    try {
      expect(existsSync(left.hostDir)).toBe(false);
      for (const dir of left.cgroupPaths) expect(existsSync(dir), dir).toBe(false);
      expect((await mountPoints()).filter((point) => point.startsWith(left.hostDir))).toEqual([]);
      expect(await loopDevicesUnder(left.hostDir)).toEqual([]);
      expect(await poolDirs(rootDir, childPool)).toEqual([]);
      expect((await mountPoints()).filter((point) => point.startsWith(path.join(rootDir, childPool)))).toEqual([]);
      const loopsLeft = await loopDevicesUnder(rootDir);
      expect(loopsLeft.filter((loop) => loop.includes(childPool))).toEqual([]);
    } finally {
      await next.close();
    }
    expect(sandbox.hostUid).toBeGreaterThan(0);
  });

  it('mounts a workspace of diskMb and a separate scratch area while the sandbox lives', async () => {
    const sandbox = await provider.create({ resources, bridges: [] });
    try {
      expect(sandbox.workspaceBacking).toBe(backing);
      for (const name of ['workspace', 'scratch']) {
        const mountPoint = path.join(sandbox.hostDir, name);
        const mounted = execFileSync('findmnt', ['-n', '-o', 'SOURCE,FSTYPE,OPTIONS', mountPoint], { encoding: 'utf8' });
        if (backing === 'tmpfs') expect(mounted).toMatch(/ tmpfs .*size=65536k/);
        else expect(mounted).toMatch(/^\/dev\/loop\d+ +ext4 +\S*nosuid,nodev/);
        const info = await statfs(mountPoint);
        expect(info.blocks * info.bsize).toBeGreaterThan(60 * 1024 * 1024);
        expect(info.blocks * info.bsize).toBeLessThanOrEqual(64 * 1024 * 1024);
        const root = await stat(mountPoint);
        expect([root.uid, root.mode & 0o777]).toEqual([sandbox.hostUid, name === 'workspace' ? 0o755 : 0o700]);
        expect(existsSync(path.join(mountPoint, 'lost+found'))).toBe(false);
      }
      if (backing === 'ext4') {
        for (const name of ['workspace.img', 'scratch.img']) {
          const image = await stat(path.join(sandbox.hostDir, name));
          // Sparse, root-only, diskMb long.
          expect([image.uid, image.mode & 0o777, image.size]).toEqual([0, 0o600, 64 * 1024 * 1024]);
          expect(image.blocks * 512).toBeLessThan(8 * 1024 * 1024);
        }
        expect(await loopDevicesUnder(sandbox.hostDir)).toHaveLength(2);
      }
      await mkdir(path.join(sandbox.hostDir, 'workspace', 'x'));
    } finally {
      await sandbox.destroy();
    }
    await assertLocalSandboxGone(sandbox);
  });

  it('creates sandboxes concurrently, each with its own filesystems, and destroys them all', async () => {
    const sandboxes = await Promise.all(Array.from({ length: 8 }, () => provider.create({ resources, bridges: [] })));
    try {
      await Promise.all(sandboxes.map((sandbox) => sandbox.writeFile('id.txt', sandbox.id)));
      const seen = await Promise.all(sandboxes.map((sandbox) => sandbox.exec('sh', ['-c', 'cat id.txt; ls -A /workspace | wc -l'])));
      expect(seen.map((result) => result.stdout)).toEqual(sandboxes.map((sandbox) => `${sandbox.id}1\n`));
      const devices = execFileSync('findmnt', ['-rn', '-o', 'SOURCE,TARGET'], { encoding: 'utf8' })
        .split('\n')
        .filter((line) => sandboxes.some((sandbox) => line.includes(sandbox.hostDir)));
      expect(new Set(devices.map((line) => line.split(' ')[0])).size).toBe(16);
    } finally {
      await Promise.all(sandboxes.map((sandbox) => sandbox.destroy()));
    }
    for (const sandbox of sandboxes) await assertLocalSandboxGone(sandbox);
  });

  it('close() waits for creates in flight: none of their sandboxes survives it', async () => {
    const rootDir = await newRoot();
    const own = createLocalSandboxProvider({ rootDir, workspaceBacking: backing, warmPoolSize: 0 });
    const ids = Array.from({ length: 4 }, (_, index) => `inflight-${index}-${randomBytes(4).toString('hex')}`);
    const pending = ids.map((id) => own.create({ id, resources, bridges: [] }));
    // Once before the preflight finishes, once while sandboxes are being made.
    await own.close();
    const later = ids.map((id) => own.create({ id: `${id}-b`, resources, bridges: [] }));
    await new Promise((resolve) => setTimeout(resolve, 5));
    await own.close();
    for (const result of await Promise.allSettled([...pending, ...later])) {
      if (result.status === 'fulfilled') {
        await expect(result.value.exec('true', [])).rejects.toThrow();
        await assertLocalSandboxGone(result.value);
      } else {
        expect(isHangarError(result.reason) && result.reason.code, String(result.reason)).toBe('SANDBOX_UNAVAILABLE');
      }
    }
    expect(await readdir(rootDir)).toEqual([]);
    expect(await loopDevicesUnder(rootDir)).toEqual([]);
    for (const id of ids) expect([...cgroupDirsOf(id), ...cgroupDirsOf(`${id}-b`)]).toEqual([]);
    // The provider still works after close().
    const again = (await own.create({ resources, bridges: [] })) as LocalSandbox;
    await own.close();
    await assertLocalSandboxGone(again);
  });
});

describe('local sandbox provider with ext4 workspaces: leftovers', () => {
  it('sweeps loop devices and images of dead sandboxes: mounted, attached only, image deleted', async () => {
    const rootDir = await newRoot();
    const mkfs = ['-q', '-F', '-O', '^has_journal'];
    const orphanImage = async (id: string): Promise<string> => {
      await mkdir(path.join(rootDir, id, 'workspace'), { recursive: true });
      const image = path.join(rootDir, id, 'workspace.img');
      await truncate(image, 8 * 1024 * 1024).catch(async () => {
        await execFileAsync('truncate', ['-s', '8M', image]);
      });
      await execFileAsync('mkfs.ext4', [...mkfs, image]);
      return image;
    };
    // A killed Hangar left: a mounted image (autoclear loop), an image attached but never mounted,
    // and a loop device whose image and directory are already gone.
    const mounted = await orphanImage(`orphan-mounted-${randomBytes(3).toString('hex')}`);
    await execFileAsync('mount', ['-o', 'loop,nosuid,nodev', mounted, path.join(path.dirname(mounted), 'workspace')]);
    const attached = await orphanImage(`orphan-attached-${randomBytes(3).toString('hex')}`);
    await execFileAsync('losetup', ['-f', attached]);
    const deleted = await orphanImage(`orphan-deleted-${randomBytes(3).toString('hex')}`);
    await execFileAsync('losetup', ['-f', deleted]);
    await unlink(deleted);
    await rm(path.dirname(deleted), { recursive: true });
    expect(await loopDevicesUnder(rootDir)).toHaveLength(3);

    const provider = createLocalSandboxProvider({ rootDir, workspaceBacking: 'ext4', ext4PoolSize: 0, warmPoolSize: 0 });
    try {
      const sandbox = await provider.create({ resources, bridges: [] });
      expect(await loopDevicesUnder(rootDir)).toEqual(await loopDevicesUnder(sandbox.hostDir));
      expect(await readdir(rootDir)).toEqual([sandbox.id]);
      expect((await mountPoints()).filter((point) => point.startsWith(`${rootDir}/orphan-`))).toEqual([]);
    } finally {
      await provider.close();
    }
    expect(await loopDevicesUnder(rootDir)).toEqual([]);
  });
});

describe('local sandbox provider with ext4 workspaces: prepared image pairs', () => {
  it('keeps pairs ready per size, hands one to each create, and removes them all on close', async () => {
    const rootDir = await newRoot();
    const provider = createLocalSandboxProvider({ rootDir, workspaceBacking: 'ext4', ext4PoolSize: 2, warmPoolSize: 0 });
    try {
      const first = await provider.create({ resources, bridges: [] });
      // A pair is ready once both of its filesystems are mounted.
      const readyPairs = async (): Promise<string[]> => {
        const mounts = await mountPoints();
        return (await poolDirs(rootDir)).filter((entry) => ['workspace', 'scratch'].every((name) => mounts.includes(path.join(rootDir, entry, name))));
      };
      expect(await eventually(async () => (await readyPairs()).length === 2)).toBe(true);
      const ready = await readyPairs();
      for (const entry of ready) {
        const workspace = path.join(rootDir, entry, 'workspace');
        expect((await mountPoints()).includes(workspace)).toBe(true);
        expect((await stat(workspace)).uid).toBe(0);
        expect((await stat(path.join(rootDir, entry, 'workspace.img'))).size).toBe(64 * 1024 * 1024);
      }
      // The next create of the same size takes a prepared pair: its mounts move with the directory.
      const second = await provider.create({ resources, bridges: [] });
      expect(ready.filter((entry) => !existsSync(path.join(rootDir, entry)))).toHaveLength(1);
      for (const name of ['workspace', 'scratch']) {
        const mountPoint = path.join(second.hostDir, name);
        expect((await mountPoints()).includes(mountPoint)).toBe(true);
        const root = await stat(mountPoint);
        expect([root.uid, root.mode & 0o777]).toEqual([second.hostUid, name === 'workspace' ? 0o755 : 0o700]);
      }
      expect(await loopDevicesUnder(second.hostDir)).toHaveLength(2);
      const written = await second.exec('sh', ['-c', 'echo hi > /workspace/a && echo t > /tmp/b && echo h > "$HOME/c" && ls -A /workspace']);
      expect(written).toMatchObject({ exitCode: 0, stdout: 'a\n' });
      await second.destroy();
      await assertLocalSandboxGone(second);
      await first.destroy();

      // Only the two most recently used sizes keep pairs.
      for (const diskMb of [32, 48]) await (await provider.create({ resources: { ...resources, diskMb }, bridges: [] })).destroy();
      const sizes = async (): Promise<number[]> =>
        (
          await Promise.all(
            (await poolDirs(rootDir)).map(async (entry) => (await stat(path.join(rootDir, entry, 'workspace.img')).catch(() => undefined))?.size ?? 0),
          )
        ).sort((a, b) => a - b);
      const mib = 1024 * 1024;
      expect(await eventually(async () => JSON.stringify(await sizes()) === JSON.stringify([32 * mib, 32 * mib, 48 * mib, 48 * mib]))).toBe(true);
    } finally {
      await provider.close();
    }
    expect(await readdir(rootDir)).toEqual([]);
    expect(await loopDevicesUnder(rootDir)).toEqual([]);
    expect((await mountPoints()).filter((point) => point.startsWith(`${rootDir}/`))).toEqual([]);
  });

  it('formats on demand when the pool is off', async () => {
    const rootDir = await newRoot();
    const provider = createLocalSandboxProvider({ rootDir, workspaceBacking: 'ext4', ext4PoolSize: 0, warmPoolSize: 0 });
    try {
      const sandbox = await provider.create({ resources, bridges: [] });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await readdir(rootDir)).toEqual([sandbox.id]);
      expect((await stat(path.join(sandbox.hostDir, 'workspace'))).uid).toBe(sandbox.hostUid);
    } finally {
      await provider.close();
    }
    expect(await readdir(rootDir)).toEqual([]);
  });
});
