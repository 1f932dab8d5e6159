// Contract suite of the SandboxProvider port: every adapter runs it (see test/sandbox/*-provider.test.ts).
// Process-running cases are skipped for adapters that run no processes (runsProcesses: false).
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isHangarError } from '../../src/errors/errors.js';
import type { Sandbox, SandboxProvider, SandboxResources, SandboxSpec } from '../../src/sandbox/sandbox-provider.js';

export interface SandboxProviderContractOptions {
  /** The adapter runs real processes (sh, cat, sleep...). Default true. */
  runsProcesses?: boolean;
  /** Resources of the sandboxes the suite creates. */
  resources?: SandboxResources;
  /** Variables an adapter may add to a process's env when the caller did not set them. */
  allowedExtraEnv?: string[];
  /** Adapter-specific check that nothing of a destroyed sandbox remains (processes, mounts, dirs...). */
  assertGone?: (sandbox: Sandbox) => Promise<void>;
}

const DEFAULT_RESOURCES: SandboxResources = { memoryMb: 256, cpus: 1, diskMb: 64, pids: 128 };
const DEFAULT_EXTRA_ENV = ['PATH', 'HOME', 'USER', 'PWD'];
const BASE_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/home/agent', USER: 'agent' };

function parseEnv(output: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of output.split('\n')) {
    if (line === '') continue;
    const separator = line.indexOf('=');
    env.set(line.slice(0, separator), line.slice(separator + 1));
  }
  return env;
}

function waitForExit(process: {
  exitCode: number | null;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
}): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    process.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

async function expectRejectCode(promise: Promise<unknown>, codes: string[]): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error, 'expected a rejection').toBeDefined();
  expect(isHangarError(error) ? codes.includes(error.code) : false, `unexpected error ${String(error)}`).toBe(true);
}

export function runSandboxProviderContract(
  name: string,
  makeProvider: () => Promise<SandboxProvider> | SandboxProvider,
  options: SandboxProviderContractOptions = {},
): void {
  const runsProcesses = options.runsProcesses ?? true;
  const resources = options.resources ?? DEFAULT_RESOURCES;
  const allowedExtraEnv = new Set(options.allowedExtraEnv ?? DEFAULT_EXTRA_ENV);
  const itProcesses = runsProcesses ? it : it.skip;

  describe(`SandboxProvider contract: ${name}`, () => {
    let provider: SandboxProvider;
    const created: Sandbox[] = [];

    const make = async (spec: Partial<SandboxSpec> = {}): Promise<Sandbox> => {
      const sandbox = await provider.create({ resources, bridges: [], ...spec });
      created.push(sandbox);
      return sandbox;
    };

    beforeAll(async () => {
      provider = await makeProvider();
    });

    afterEach(async () => {
      await Promise.all(created.splice(0).map((sandbox) => sandbox.destroy()));
    });

    afterAll(async () => {
      await provider?.close();
    });

    it('creates a sandbox with the requested id and absolute inside paths', async () => {
      const id = `contract-${Date.now().toString(36)}`;
      const sandbox = await make({ id });
      expect(sandbox.id).toBe(id);
      expect(sandbox.workspacePath.startsWith('/')).toBe(true);
      expect(sandbox.homePath.startsWith('/')).toBe(true);
      const other = await make();
      expect(other.id).not.toBe(id);
      expect(other.id.length).toBeGreaterThan(0);
    });

    it('refuses a second live sandbox with the same id', async () => {
      const sandbox = await make();
      await expectRejectCode(provider.create({ id: sandbox.id, resources, bridges: [] }), ['CONFLICT']);
    });

    it('rejects non-positive resources', async () => {
      for (const bad of [{ memoryMb: 0 }, { cpus: -1 }, { diskMb: Number.NaN }, { pids: 0 }]) {
        await expectRejectCode(provider.create({ resources: { ...resources, ...bad }, bridges: [] }), ['VALIDATION_FAILED']);
      }
    });

    it('writes, reads and lists workspace files', async () => {
      const sandbox = await make();
      const binary = Buffer.from([0, 1, 2, 255, 254]);
      await sandbox.writeFile('notes.txt', 'a longer first version');
      await sandbox.writeFile('notes.txt', 'short');
      await sandbox.writeFile('deep/nested/dir/data.bin', binary);
      await sandbox.writeFile('./b.txt', 'b');
      expect((await sandbox.readFile('notes.txt')).toString()).toBe('short');
      expect(Buffer.compare(await sandbox.readFile('deep/nested/dir/data.bin'), binary)).toBe(0);
      expect(await sandbox.listFiles()).toEqual(['b.txt', 'deep/nested/dir/data.bin', 'notes.txt']);
    });

    it('refuses paths outside the workspace', async () => {
      const sandbox = await make();
      for (const bad of ['../escape', '/etc/passwd', 'a/../../escape', '', '.']) {
        await expectRejectCode(sandbox.writeFile(bad, 'x'), ['VALIDATION_FAILED']);
        await expectRejectCode(sandbox.readFile(bad), ['VALIDATION_FAILED']);
      }
    });

    it('rejects reading a missing file with NOT_FOUND', async () => {
      const sandbox = await make();
      await expectRejectCode(sandbox.readFile('missing.txt'), ['NOT_FOUND']);
    });

    it('keeps sandboxes apart', async () => {
      const first = await make();
      const second = await make();
      await first.writeFile('only-here.txt', '1');
      expect(await second.listFiles()).toEqual([]);
      await expectRejectCode(second.readFile('only-here.txt'), ['NOT_FOUND']);
    });

    it('runs commands and reports exit codes', async () => {
      const sandbox = await make();
      expect(await sandbox.exec('echo', ['hello', 'sandbox'])).toMatchObject({ exitCode: 0, stdout: 'hello sandbox\n' });
      expect((await sandbox.exec('true', [])).exitCode).toBe(0);
      expect((await sandbox.exec('false', [])).exitCode).toBe(1);
      const missing = await sandbox.exec('hangar-no-such-command', []);
      expect(missing.exitCode).not.toBe(0);
      expect(missing.exitCode).not.toBeNull();
    });

    it('gives a process exactly the env it was passed, nothing from the host', async () => {
      const sandbox = await make();
      const hostSecret = `host-secret-${Math.random().toString(36).slice(2)}`;
      process.env.HANGAR_CONTRACT_HOST_SECRET = hostSecret;
      try {
        const env = { ...BASE_ENV, FOO: 'bar=baz qux', TOKEN: 'sk-not-a-real-one' };
        const result = await sandbox.exec('env', [], { env });
        expect(result.exitCode).toBe(0);
        const seen = parseEnv(result.stdout);
        for (const [key, value] of Object.entries(env)) expect(seen.get(key), key).toBe(value);
        for (const key of seen.keys()) {
          if (!(key in env)) expect(allowedExtraEnv.has(key), `unexpected env ${key}`).toBe(true);
        }
        expect(result.stdout).not.toContain(hostSecret);
        const minimal = parseEnv((await sandbox.exec('env', [], { env: { ONLY: '1' } })).stdout);
        expect(minimal.get('ONLY')).toBe('1');
        for (const key of minimal.keys()) if (key !== 'ONLY') expect(allowedExtraEnv.has(key), `unexpected env ${key}`).toBe(true);
      } finally {
        delete process.env.HANGAR_CONTRACT_HOST_SECRET;
      }
    });

    itProcesses('collects stdout and stderr separately with the exit code', async () => {
      const sandbox = await make();
      const result = await sandbox.exec('sh', ['-c', 'echo out; echo err >&2; exit 3']);
      expect(result).toEqual({ exitCode: 3, signal: null, stdout: 'out\n', stderr: 'err\n' });
    });

    itProcesses('shares the workspace between file operations and processes', async () => {
      const sandbox = await make();
      await sandbox.writeFile('from-host.txt', 'host');
      expect((await sandbox.exec('cat', ['from-host.txt'])).stdout).toBe('host');
      expect((await sandbox.exec('pwd', [])).stdout.trim()).toBe(sandbox.workspacePath);
      const made = await sandbox.exec('sh', ['-c', 'mkdir -p sub && echo inside > sub/from-inside.txt && ln -s from-host.txt link']);
      expect(made.exitCode).toBe(0);
      expect((await sandbox.readFile('sub/from-inside.txt')).toString()).toBe('inside\n');
      expect(await sandbox.listFiles()).toEqual(['from-host.txt', 'sub/from-inside.txt']);
      expect((await sandbox.exec('pwd', [], { cwd: `${sandbox.workspacePath}/sub` })).stdout.trim()).toBe(`${sandbox.workspacePath}/sub`);
    });

    itProcesses('lets processes write HOME and /tmp', async () => {
      const sandbox = await make();
      const result = await sandbox.exec('sh', ['-c', 'echo h > "$HOME/f" && echo t > /tmp/f && cat "$HOME/f" /tmp/f'], { env: BASE_ENV });
      expect(result).toMatchObject({ exitCode: 0, stdout: 'h\nt\n' });
      expect((await sandbox.exec('sh', ['-c', 'echo "$HOME"'], { env: BASE_ENV })).stdout.trim()).toBe(sandbox.homePath);
    });

    itProcesses('spawns a process with piped stdin and stdout and stderr to onStderr', async () => {
      const sandbox = await make();
      let stderr = '';
      const child = sandbox.spawn({
        command: 'sh',
        args: ['-c', 'echo starting >&2; cat'],
        env: BASE_ENV,
        onStderr: (chunk) => {
          stderr += chunk;
        },
      });
      const exited = waitForExit(child);
      let stdout = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        stdout += chunk;
      });
      child.stdin.write('line one\n');
      child.stdin.end('line two\n');
      expect(await exited).toEqual({ code: 0, signal: null });
      await new Promise((resolve) => setImmediate(resolve));
      expect(stdout).toBe('line one\nline two\n');
      expect(stderr).toContain('starting');
      expect(child.exitCode).toBe(0);
    });

    itProcesses('kills a spawned process', async () => {
      const sandbox = await make();
      const child = sandbox.spawn({ command: 'sleep', args: ['60'], env: BASE_ENV });
      const exited = waitForExit(child);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(child.kill('SIGTERM')).toBe(true);
      const { code, signal } = await exited;
      expect(code === 0 && signal === null).toBe(false);
      expect(child.killed).toBe(true);
    });

    itProcesses('kills an exec that exceeds timeoutMs', async () => {
      const sandbox = await make();
      const started = Date.now();
      const result = await sandbox.exec('sleep', ['30'], { timeoutMs: 300 });
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(result.exitCode === 0).toBe(false);
    });

    it('scans workspace files as byte paths with their stat identity', async () => {
      const sandbox = await make();
      await sandbox.writeFile('notes.txt', 'first');
      await sandbox.writeFile('deep/nested/data.bin', Buffer.from([0, 1, 2]));
      const scan = await sandbox.scanFiles({ maxEntries: 100 });
      expect(scan).toMatchObject({ truncated: false, aborted: false });
      const byPath = new Map(scan.entries.map((entry) => [entry.path.toString('utf8'), entry]));
      expect([...byPath.keys()].sort()).toEqual(await sandbox.listFiles());
      for (const entry of scan.entries) expect(Buffer.isBuffer(entry.path)).toBe(true);
      expect(byPath.get('notes.txt')).toMatchObject({ size: 5 });
      expect(byPath.get('deep/nested/data.bin')).toMatchObject({ size: 3 });
      expect(typeof byPath.get('notes.txt')?.ctimeNs).toBe('bigint');
      await sandbox.writeFile('notes.txt', 'second version');
      const again = (await sandbox.scanFiles({ maxEntries: 100 })).entries.find((entry) => entry.path.toString() === 'notes.txt');
      expect(again?.size).toBe(14);
      expect(again?.ctimeNs).not.toBe(byPath.get('notes.txt')?.ctimeNs);
    });

    it('stops a scan at maxEntries or when its signal fires, and says so', async () => {
      const sandbox = await make();
      for (let index = 0; index < 5; index += 1) await sandbox.writeFile(`file-${index}.txt`, String(index));
      const capped = await sandbox.scanFiles({ maxEntries: 2 });
      expect(capped.truncated).toBe(true);
      expect(capped.entries.length).toBeLessThanOrEqual(2);
      const aborted = await sandbox.scanFiles({ maxEntries: 100, signal: AbortSignal.abort() });
      expect(aborted).toMatchObject({ aborted: true, entries: [] });
    });

    it('skips directories deeper than maxDepth and goes on with the rest', async () => {
      const sandbox = await make();
      for (const file of ['top.txt', 'a/mid.txt', 'a/b/low.txt', 'a/b/c/deep.txt', 'z/also.txt']) await sandbox.writeFile(file, 'x');
      const scan = await sandbox.scanFiles({ maxEntries: 100, maxDepth: 2 });
      expect(scan.truncated).toBe(true);
      expect(scan.entries.map((entry) => entry.path.toString()).sort()).toEqual(['a/b/low.txt', 'a/mid.txt', 'top.txt', 'z/also.txt']);
    });

    it('reads file bytes up to maxBytes with their sha256', async () => {
      const sandbox = await make();
      const content = Buffer.from('hello, bounded world\n');
      await sandbox.writeFile('dir/hello.txt', content);
      const name = Buffer.from('dir/hello.txt');
      const read = await sandbox.readFileBytes(name, { maxBytes: 1024, keepContent: true });
      expect(read).toMatchObject({ tooLarge: false, sha256: createHash('sha256').update(content).digest('hex'), stat: { size: content.length } });
      expect(read.content?.equals(content)).toBe(true);
      expect((await sandbox.readFileBytes(name, { maxBytes: 1024 })).content).toBeUndefined();
      const tooLarge = await sandbox.readFileBytes(name, { maxBytes: 4, keepContent: true });
      expect(tooLarge).toMatchObject({ tooLarge: true, stat: { size: content.length } });
      expect(tooLarge.content).toBeUndefined();
      expect(tooLarge.sha256).toBeUndefined();
      await expectRejectCode(sandbox.readFileBytes(Buffer.from('dir/missing'), { maxBytes: 10 }), ['NOT_FOUND']);
      for (const bad of ['../escape', '/etc/passwd', 'a/../../escape', '', '.']) {
        await expectRejectCode(sandbox.readFileBytes(Buffer.from(bad), { maxBytes: 10 }), ['VALIDATION_FAILED']);
      }
      await expect(sandbox.readFileBytes(name, { maxBytes: 1024, signal: AbortSignal.abort() })).rejects.toThrow();
    });

    itProcesses('scans names that are not UTF-8, and never follows links nor opens FIFOs', async () => {
      const sandbox = await make();
      const made = await sandbox.exec('sh', [
        '-c',
        'printf x > "$(printf \'bad\\377name\')" && mkfifo fifo && ln -s /etc/passwd link && ln -s . loop && mkdir d && ln -s /etc d/etc && truncate -s 1G sparse && echo ok > d/plain',
      ]);
      expect(made).toMatchObject({ exitCode: 0 });
      const scan = await sandbox.scanFiles({ maxEntries: 100 });
      const badName = Buffer.concat([Buffer.from('bad'), Buffer.of(0xff), Buffer.from('name')]);
      expect(scan.entries.map((entry) => entry.path.toString('latin1')).sort()).toEqual([badName.toString('latin1'), 'd/plain', 'sparse']);
      const sparse = scan.entries.find((entry) => entry.path.toString() === 'sparse');
      expect(sparse?.size).toBe(1024 ** 3);
      expect(sparse?.allocatedBytes).toBeLessThan(1024 * 1024);
      expect((await sandbox.readFileBytes(badName, { maxBytes: 10, keepContent: true })).content?.toString()).toBe('x');
      expect(await sandbox.readFileBytes(Buffer.from('sparse'), { maxBytes: 1024 * 1024 })).toMatchObject({ tooLarge: true });
      for (const refused of ['fifo', 'link', 'loop/d/plain', 'd/etc/passwd']) {
        await expectRejectCode(sandbox.readFileBytes(Buffer.from(refused), { maxBytes: 1024 }), ['VALIDATION_FAILED']);
      }
    });

    it('reports stats', async () => {
      const sandbox = await make();
      const stats = await sandbox.stats();
      expect(stats.oomKills).toBe(0);
      expect(typeof stats.processCount).toBe('number');
    });

    itProcesses('counts running processes in stats', async () => {
      const sandbox = await make();
      const child = sandbox.spawn({ command: 'sleep', args: ['60'], env: BASE_ENV });
      const exited = waitForExit(child);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await sandbox.stats()).processCount).toBeGreaterThan(0);
      child.kill('SIGKILL');
      await exited;
    });

    it('destroys idempotently and leaves nothing behind', async () => {
      const sandbox = await make();
      await sandbox.writeFile('file.txt', 'x');
      const exited = runsProcesses ? waitForExit(sandbox.spawn({ command: 'sleep', args: ['60'], env: BASE_ENV })) : undefined;
      if (runsProcesses) await new Promise((resolve) => setTimeout(resolve, 100));
      await Promise.all([sandbox.destroy(), sandbox.destroy()]);
      await sandbox.destroy();
      if (exited) await exited;
      await expectRejectCode(sandbox.readFile('file.txt'), ['SANDBOX_FAILED']);
      await expect(sandbox.exec('true', [])).rejects.toThrow();
      expect(() => sandbox.spawn({ command: 'true', args: [], env: {} })).toThrow();
      await options.assertGone?.(sandbox);
      // The id is free again.
      const again = await make({ id: sandbox.id });
      expect(await again.listFiles()).toEqual([]);
    });

    it('destroys every sandbox on close', async () => {
      const own = await makeProvider();
      const first = await own.create({ resources, bridges: [] });
      const second = await own.create({ resources, bridges: [] });
      await first.writeFile('x', 'x');
      await own.close();
      await expectRejectCode(first.readFile('x'), ['SANDBOX_FAILED']);
      await options.assertGone?.(first);
      await options.assertGone?.(second);
    });
  });
}
