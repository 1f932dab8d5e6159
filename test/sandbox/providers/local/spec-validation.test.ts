// Checks of local sandbox specs and launch requests: pure, without root (the host-path checks stat
// temp files).
import { chmod, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HangarError } from '../../../../src/errors/errors.js';
import { checkLaunchRequest, checkSpecHostPaths, validateEnv, validateSpec } from '../../../../src/sandbox/providers/local/spec-validation.js';
import type { SandboxSpec } from '../../../../src/sandbox/sandbox-provider.js';
import { useTempDir } from '../../../helpers/temp-dirs.js';

const resources = { memoryMb: 256, cpus: 1, diskMb: 64, pids: 128 };
const dir = useTempDir('hangar-spec-');

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return error instanceof HangarError ? error.code : 'not a HangarError';
  }
}

describe('local sandbox spec validation', () => {
  it('accepts a spec with positive resources, plain ids, distinct bridges and read-only paths outside its own mounts', () => {
    validateSpec({
      id: 'sbx-1.a_b',
      resources: { memoryMb: 0.5, cpus: 0.25, diskMb: 1, pids: 1 },
      bridges: [
        { name: 'gateway', hostSocketPath: '/run/gw.sock', port: 4100 },
        { name: 'egress', hostSocketPath: '/run/eg.sock', port: 65535 },
      ],
      readOnlyPaths: ['/opt/claude', '/tmp/checkout/node_modules', '/etc/ssl/certs'],
      readOnlyFiles: [{ path: '/run/hangar/files/egress/ca.pem', content: 'pem' }],
    });
  });

  it('refuses bad resources, ids, bridges and read-only paths as VALIDATION_FAILED', () => {
    const bad: Array<Partial<SandboxSpec> & Record<string, unknown>> = [
      { resources: undefined },
      { resources: { ...resources, memoryMb: 0 } },
      { resources: { ...resources, cpus: Number.NaN } },
      { resources: { ...resources, diskMb: -1 } },
      { resources: { ...resources, pids: 1.5 } },
      { resources: { ...resources, pids: '5' as unknown as number } },
      { id: '../x' },
      { id: '.hidden' },
      { id: 'a'.repeat(129) },
      { bridges: [{ name: 'a b', hostSocketPath: '/s', port: 1 }] },
      { readOnlyFiles: [{ path: '/etc/passwd', content: 'x' }] },
      { readOnlyFiles: [{ path: '/run/hangar/files', content: 'x' }] },
      { readOnlyFiles: [{ path: '/run/hangar/files/../gateway.sock', content: 'x' }] },
      {
        readOnlyFiles: [
          { path: '/run/hangar/files/a', content: 'x' },
          { path: '/run/hangar/files/a', content: 'y' },
        ],
      },
      { readOnlyFiles: [{ path: '/run/hangar/files/big', content: 'x'.repeat(4 * 1024 * 1024 + 1) }] },
      { bridges: [{ name: 'a', hostSocketPath: '/s', port: 0 }] },
      { bridges: [{ name: 'a', hostSocketPath: '/s', port: 65536 }] },
      { bridges: [{ name: 'a', hostSocketPath: 'relative.sock', port: 1 }] },
      {
        bridges: [
          { name: 'a', hostSocketPath: '/s', port: 1 },
          { name: 'a', hostSocketPath: '/t', port: 2 },
        ],
      },
      {
        bridges: [
          { name: 'a', hostSocketPath: '/s', port: 1 },
          { name: 'b', hostSocketPath: '/t', port: 1 },
        ],
      },
      ...['/', 'opt', '/opt/../etc', '/tmp', '/workspace/x', '/home', '/home/agent', '/proc/1', '/dev', '/run', '/run/hangar/x', '/etc/passwd', '/etc'].map(
        (entry) => ({
          readOnlyPaths: [entry],
        }),
      ),
    ];
    for (const overrides of bad) {
      expect(
        codeOf(() => validateSpec({ resources, ...overrides } as SandboxSpec)),
        JSON.stringify(overrides),
      ).toBe('VALIDATION_FAILED');
    }
  });

  it('refuses environment names with = or NUL and values with NUL', () => {
    validateEnv({ A: 'x=y', B: '' });
    for (const env of [{ '': 'x' }, { 'A=B': 'x' }, { 'A\0': 'x' }, { A: 'x\0y' }] as Array<Record<string, string>>)
      expect(
        codeOf(() => validateEnv(env)),
        JSON.stringify(env),
      ).toBe('VALIDATION_FAILED');
  });

  it('gives a launch PATH, HOME and USER unless the request sets them, and the workspace as its directory', () => {
    expect(checkLaunchRequest({ command: 'claude', args: [], env: { PATH: '/opt/bin', EXTRA: '1' } })).toEqual({
      env: { PATH: '/opt/bin', HOME: '/home/agent', USER: 'agent', EXTRA: '1' },
      cwd: '/workspace',
    });
    expect(checkLaunchRequest({ command: 'x', args: ['a'], env: {}, cwd: '/tmp' }).cwd).toBe('/tmp');
    for (const request of [
      { command: '', args: [], env: {} },
      { command: 'a\0b', args: [], env: {} },
      { command: 'x', args: ['a\0'], env: {} },
      { command: 'x', args: 'a', env: {} },
      { command: 'x', args: [], env: {}, cwd: 'relative' },
      { command: 'x', args: [], env: { 'A=B': '1' } },
    ]) {
      expect(
        codeOf(() => checkLaunchRequest(request as never)),
        JSON.stringify(request),
      ).toBe('VALIDATION_FAILED');
    }
  });

  it('checks on the host that read-only paths exist and bridges are sockets others can connect to', async () => {
    await checkSpecHostPaths({ resources, bridges: [], readOnlyPaths: [dir] });
    await expect(checkSpecHostPaths({ resources, bridges: [], readOnlyPaths: [path.join(dir, 'missing')] })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    const file = path.join(dir, 'file.sock');
    await writeFile(file, '');
    await expect(checkSpecHostPaths({ resources, bridges: [{ name: 'a', hostSocketPath: file, port: 1 }] })).rejects.toThrow(/not a unix socket/);
    await expect(checkSpecHostPaths({ resources, bridges: [{ name: 'a', hostSocketPath: path.join(dir, 'none.sock'), port: 1 }] })).rejects.toThrow(
      /no socket/,
    );
    const socketPath = path.join(dir, 'real.sock');
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      await chmod(socketPath, 0o600);
      await expect(checkSpecHostPaths({ resources, bridges: [{ name: 'a', hostSocketPath: socketPath, port: 1 }] })).rejects.toThrow(/connectable by others/);
      await chmod(socketPath, 0o666);
      await chmod(dir, 0o700);
      await expect(checkSpecHostPaths({ resources, bridges: [{ name: 'a', hostSocketPath: socketPath, port: 1 }] })).rejects.toThrow(/searchable by others/);
      await chmod(dir, 0o755);
      await checkSpecHostPaths({ resources, bridges: [{ name: 'a', hostSocketPath: socketPath, port: 1 }] });
    } finally {
      server.close();
    }
  });
});
