// Child process for the crash test: creates a local sandbox running `sleep`, prints what it made,
// then waits to be SIGKILLed without cleaning up. argv: <rootDir> [ext4|tmpfs]
import { createLocalSandboxProvider, type WorkspaceBacking } from '../../src/sandbox/providers/local/index.js';

const rootDir = process.argv[2];
if (rootDir === undefined) throw new Error('usage: sandbox-crash-child <rootDir> [ext4|tmpfs]');
const workspaceBacking = (process.argv[3] ?? 'ext4') as WorkspaceBacking;
const provider = createLocalSandboxProvider({ rootDir, workspaceBacking, warmPoolSize: 0 });
const sandbox = await provider.create({ resources: { memoryMb: 128, cpus: 1, diskMb: 16, pids: 32 }, bridges: [] });
const child = sandbox.spawn({ command: 'sh', args: ['-c', 'echo ready; exec sleep 600'], env: { PATH: '/usr/bin:/bin' } });
child.stdout.once('data', () => {
  void sandbox.hostPids().then((pids) => {
    process.stdout.write(`${JSON.stringify({ id: sandbox.id, hostDir: sandbox.hostDir, hostUid: sandbox.hostUid, cgroupPaths: sandbox.cgroupPaths, pids })}\n`);
  });
});
setInterval(() => undefined, 60_000);
