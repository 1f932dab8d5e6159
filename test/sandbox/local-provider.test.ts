// Runs the SandboxProvider contract against the local provider (bubblewrap + cgroups + tmpfs), plus
// the local provider's own behaviour: host-side file safety, preflight errors, output caps, timing.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHangarError } from '../../src/errors/errors.js';
import { createLocalSandboxProvider, type LocalSandboxProvider } from '../../src/sandbox/providers/local.js';
import type { SandboxResources } from '../../src/sandbox/sandbox-provider.js';
import { runSandboxProviderContract } from '../contracts/sandbox-provider.contract.js';
import { assertLocalSandboxGone, exitOf, makeSandboxRoot, mountPoints, waitAllGone } from '../helpers/sandbox-host.js';

const resources: SandboxResources = { memoryMb: 256, cpus: 1, diskMb: 64, pids: 128 };
const roots: string[] = [];

async function newProvider(): Promise<LocalSandboxProvider> {
  const rootDir = await makeSandboxRoot();
  roots.push(rootDir);
  return createLocalSandboxProvider({ rootDir });
}

afterAll(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

runSandboxProviderContract('local', newProvider, { resources, assertGone: (sandbox) => assertLocalSandboxGone(sandbox) });

describe('local sandbox provider', () => {
  let provider: LocalSandboxProvider;

  beforeAll(async () => {
    provider = await newProvider();
  });

  afterAll(async () => {
    await provider?.close();
  });

  it('fails with SANDBOX_UNAVAILABLE naming the package when bubblewrap is missing', async () => {
    const rootDir = await makeSandboxRoot();
    roots.push(rootDir);
    const broken = createLocalSandboxProvider({ rootDir, bwrapPath: '/nonexistent/bwrap' });
    const error = await broken.create({ resources, bridges: [] }).catch((reason: unknown) => reason);
    expect(isHangarError(error) && error.code).toBe('SANDBOX_UNAVAILABLE');
    expect((error as Error).message).toContain('apt-get install bubblewrap');
    await broken.close();
  });

  it('works under a rootDir with spaces in its path', async () => {
    const parent = await makeSandboxRoot();
    roots.push(parent);
    await chmod(parent, 0o755);
    const spaced = createLocalSandboxProvider({ rootDir: path.join(parent, 'sand boxes') });
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

  it('checks readOnlyPaths and bridge sockets before creating anything', async () => {
    const missing = await provider.create({ resources, bridges: [], readOnlyPaths: ['/nonexistent/dir'] }).catch((reason: unknown) => reason);
    expect(isHangarError(missing) && missing.code).toBe('VALIDATION_FAILED');
    const overlap = await provider.create({ resources, bridges: [], readOnlyPaths: ['/workspace'] }).catch((reason: unknown) => reason);
    expect(isHangarError(overlap) && overlap.code).toBe('VALIDATION_FAILED');

    const dir = await makeSandboxRoot('hangar-bridge-');
    roots.push(dir);
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

  it('creates and destroys a sandbox in a few milliseconds', async () => {
    await (await provider.create({ resources, bridges: [] })).destroy();
    const times: number[] = [];
    for (let run = 0; run < 50; run += 1) {
      const started = performance.now();
      const sandbox = await provider.create({ resources, bridges: [] });
      await sandbox.destroy();
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    const p50 = times[24] ?? 0;
    const p95 = times[47] ?? 0;
    console.log(`local sandbox create+destroy over 50 runs: p50 ${p50.toFixed(2)} ms, p95 ${p95.toFixed(2)} ms`);
    expect(p50).toBeLessThan(50);
  });

  it('kills a crashed process\'s sandbox processes and sweeps its leftovers on the next start', async () => {
    const rootDir = await makeSandboxRoot();
    roots.push(rootDir);
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '../helpers/sandbox-crash-child.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', script, rootDir], { stdio: ['ignore', 'pipe', 'inherit'] });
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
    child.kill('SIGKILL');
    await exited;
    // --die-with-parent: the sandbox's processes die with the process that started them.
    expect(await waitAllGone(left.pids)).toEqual([]);
    expect(existsSync(left.hostDir)).toBe(true);
    expect(existsSync(left.cgroupPaths[0] ?? '')).toBe(true);

    const next = createLocalSandboxProvider({ rootDir });
    const sandbox = await next.create({ resources, bridges: [] });
    try {
      expect(existsSync(left.hostDir)).toBe(false);
      for (const dir of left.cgroupPaths) expect(existsSync(dir), dir).toBe(false);
      expect((await mountPoints()).includes(left.hostDir)).toBe(false);
    } finally {
      await next.close();
    }
    expect(sandbox.hostUid).toBeGreaterThan(0);
  });

  it('mounts a workspace tmpfs of diskMb and a separate scratch tmpfs while the sandbox lives', async () => {
    const sandbox = await provider.create({ resources, bridges: [] });
    try {
      for (const name of ['workspace', 'scratch']) {
        const mounted = execFileSync('findmnt', ['-n', '-o', 'FSTYPE,OPTIONS', path.join(sandbox.hostDir, name)], { encoding: 'utf8' });
        expect(mounted).toMatch(/^tmpfs .*size=65536k/);
      }
      await mkdir(path.join(sandbox.hostDir, 'workspace', 'x'));
    } finally {
      await sandbox.destroy();
    }
  });
});
