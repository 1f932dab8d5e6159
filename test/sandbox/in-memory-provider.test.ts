// Runs the SandboxProvider contract against the in-memory fake, plus the fake's own behaviour.
import { describe, expect, it } from 'vitest';
import { createInMemorySandboxProvider } from '../../src/sandbox/providers/in-memory.js';
import { runSandboxProviderContract } from '../contracts/sandbox-provider.contract.js';

runSandboxProviderContract('in-memory', () => createInMemorySandboxProvider(), {
  runsProcesses: false,
  assertGone: async (sandbox) => {
    expect(await sandbox.stats()).toEqual({ oomKills: 0, processCount: 0 });
  },
});

describe('in-memory sandbox provider', () => {
  it('spawns a process that exits 127 at once and says why on stderr', async () => {
    const provider = createInMemorySandboxProvider();
    const sandbox = await provider.create({ resources: { memoryMb: 1, cpus: 1, diskMb: 1, pids: 1 }, bridges: [] });
    let stderr = '';
    const child = sandbox.spawn({ command: 'claude', args: [], env: {}, onStderr: (chunk) => (stderr += chunk) });
    const exit = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    expect(exit).toBe(127);
    expect(child.exitCode).toBe(127);
    expect(stderr).toContain('runs no processes');
    expect(provider.sandboxes.get(sandbox.id)).toBeDefined();
    await provider.close();
    expect(provider.sandboxes.size).toBe(0);
  });

  it('cats workspace files and exits 127 for unknown commands', async () => {
    const provider = createInMemorySandboxProvider();
    const sandbox = await provider.create({ resources: { memoryMb: 1, cpus: 1, diskMb: 1, pids: 1 }, bridges: [] });
    await sandbox.writeFile('a.txt', 'A');
    expect((await sandbox.exec('cat', ['a.txt', '/workspace/a.txt'])).stdout).toBe('AA');
    expect((await sandbox.exec('python3', ['-V'])).exitCode).toBe(127);
    await provider.close();
  });
});
