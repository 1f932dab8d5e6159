// The in-memory sandbox provider whose sandboxes can run one program, tar, so session checkpoints
// (a tar of the workspace and HOME, made and unpacked inside the sandbox) work without a real
// sandbox: the host's tar runs over a host directory holding the sandbox's files, and what it
// unpacks is read back into them. Everything else spawned still exits 127 at once.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SpawnedProcess } from '@anthropic-ai/claude-agent-sdk';
import { createInMemorySandboxProvider } from '../../src/sandbox/providers/in-memory.js';
import type { Sandbox, SandboxProvider, SandboxSpawnRequest } from '../../src/sandbox/sandbox-provider.js';

type InMemorySandbox = Sandbox & { readonly files: Map<string, Buffer> };

/** Relative paths of the regular files under `directory`. */
function filesUnder(directory: string, prefix = ''): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(path.join(directory, prefix), { withFileTypes: true })) {
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) found.push(...filesUnder(directory, relative));
    else if (entry.isFile()) found.push(relative);
  }
  return found;
}

/** Runs the host's tar for the sandbox, `/` of its arguments being a host directory with the sandbox's files. */
function runTar(sandbox: InMemorySandbox, request: SandboxSpawnRequest, scratch: string): SpawnedProcess {
  const root = mkdtempSync(path.join(scratch, 'tar-'));
  const workspace = path.join(root, sandbox.workspacePath);
  mkdirSync(path.join(root, sandbox.homePath), { recursive: true });
  mkdirSync(workspace, { recursive: true });
  for (const [file, content] of sandbox.files) {
    mkdirSync(path.dirname(path.join(workspace, file)), { recursive: true });
    writeFileSync(path.join(workspace, file), content);
  }
  const args = request.args.map((arg, index) => (request.args[index - 1] === '--directory' ? path.join(root, arg) : arg));
  const child = spawn('tar', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => request.onStderr?.(chunk));
  child.stdin.on('error', () => undefined);
  // Registered before the caller's listeners: what tar unpacked is in the sandbox when they hear of the exit.
  child.once('exit', (code) => {
    if (code === 0 && request.args.includes('--extract')) {
      sandbox.files.clear();
      for (const file of filesUnder(workspace)) sandbox.files.set(file, readFileSync(path.join(workspace, file)));
    }
    rmSync(root, { recursive: true, force: true });
  });
  return child as unknown as SpawnedProcess;
}

/** `scratch` holds the host directories tar runs over, one per run, removed when it exits. */
export function createTarInMemorySandboxProvider(scratch: string): SandboxProvider {
  const inner = createInMemorySandboxProvider();
  return {
    name: inner.name,
    async create(spec) {
      const sandbox = (await inner.create(spec)) as InMemorySandbox;
      const spawnInside = sandbox.spawn.bind(sandbox);
      return Object.assign(Object.create(sandbox) as InMemorySandbox, {
        spawn: (request: SandboxSpawnRequest) => (request.command === 'tar' ? runTar(sandbox, request, scratch) : spawnInside(request)),
      });
    },
    close: () => inner.close(),
  };
}
