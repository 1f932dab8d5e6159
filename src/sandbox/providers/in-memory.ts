// An in-memory SandboxProvider for unit tests of code above the port. Files live in a Map; no
// process ever runs: exec answers a few builtins (echo, true, false, env, cat, pwd) and exits 127
// otherwise, and spawn returns a process that exits 127 at once with a message on stderr.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { PassThrough, Readable, Writable } from 'node:stream';
import type { SpawnedProcess } from '@anthropic-ai/claude-agent-sdk';
import { HangarError } from '../../errors/errors.js';
import { newSandboxId } from '../../ids.js';
import type {
  Sandbox,
  SandboxExecResult,
  SandboxProvider,
  SandboxSpawnRequest,
  SandboxSpec,
  SandboxStats,
  WorkspaceFileRead,
  WorkspaceFileStat,
  WorkspaceReadOptions,
  WorkspaceScan,
  WorkspaceScanOptions,
} from '../sandbox-provider.js';

const WORKSPACE_PATH = '/workspace';
const HOME_PATH = '/home/agent';

/** Normalizes a workspace-relative path, refusing absolute paths and `..`. */
function normalize(relativePath: string): string {
  if (typeof relativePath !== 'string' || relativePath.startsWith('/') || relativePath.includes('\0')) {
    throw new HangarError('VALIDATION_FAILED', `workspace paths are relative: ${JSON.stringify(relativePath)}`);
  }
  const parts = relativePath.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw new HangarError('VALIDATION_FAILED', `path escapes the workspace: ${JSON.stringify(relativePath)}`);
  if (parts.length === 0) throw new HangarError('VALIDATION_FAILED', `path names the workspace itself: ${JSON.stringify(relativePath)}`);
  return parts.join('/');
}

const BLOCK_BYTES = 4096;
let nextInode = 1n;

/** Stat identity of an in-memory file: a new one whenever its Buffer is replaced (writeFile or a test's files.set). */
interface FileIdentity {
  content: Buffer;
  ino: bigint;
  ctimeNs: bigint;
}

/** A process that never ran: exits 127 on the next tick. */
class NotRunProcess extends EventEmitter {
  readonly stdin: Writable = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  readonly stdout: Readable = new PassThrough();
  killed = false;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;

  constructor(message: string, onStderr: ((chunk: string) => void) | undefined) {
    super();
    setImmediate(() => {
      onStderr?.(message);
      (this.stdout as PassThrough).end();
      this.exitCode = 127;
      this.emit('exit', 127, null);
    });
  }

  kill(_signal: NodeJS.Signals): boolean {
    return false;
  }
}

class InMemorySandbox implements Sandbox {
  readonly workspacePath = WORKSPACE_PATH;
  readonly homePath = HOME_PATH;
  readonly files = new Map<string, Buffer>();
  private readonly identities = new Map<string, FileIdentity>();
  destroyed = false;

  constructor(
    readonly id: string,
    private readonly onDestroy: () => void,
  ) {}

  spawn(request: SandboxSpawnRequest): SpawnedProcess {
    this.assertLive();
    return new NotRunProcess(`in-memory sandbox runs no processes: cannot start ${request.command}\n`, request.onStderr);
  }

  async exec(command: string, args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<SandboxExecResult> {
    this.assertLive();
    const ok = (stdout: string): SandboxExecResult => ({ exitCode: 0, signal: null, stdout, stderr: '' });
    switch (command) {
      case 'true':
        return ok('');
      case 'false':
        return { exitCode: 1, signal: null, stdout: '', stderr: '' };
      case 'echo':
        return ok(`${args.join(' ')}\n`);
      case 'pwd':
        return ok(`${options.cwd ?? WORKSPACE_PATH}\n`);
      case 'env':
        return ok(
          Object.entries(options.env ?? {})
            .map(([name, value]) => `${name}=${value}\n`)
            .join(''),
        );
      case 'cat': {
        let stdout = '';
        for (const arg of args) {
          const relative = arg.startsWith(`${WORKSPACE_PATH}/`) ? arg.slice(WORKSPACE_PATH.length + 1) : arg;
          const content = this.files.get(relative);
          if (content === undefined) return { exitCode: 1, signal: null, stdout, stderr: `cat: ${arg}: No such file or directory\n` };
          stdout += content.toString('utf8');
        }
        return ok(stdout);
      }
      default:
        return { exitCode: 127, signal: null, stdout: '', stderr: `${command}: command not found (in-memory sandbox runs no processes)\n` };
    }
  }

  async readFile(relativePath: string): Promise<Buffer> {
    this.assertLive();
    const content = this.files.get(normalize(relativePath));
    if (content === undefined) throw new HangarError('NOT_FOUND', `no such file in the workspace: ${relativePath}`);
    return Buffer.from(content);
  }

  async writeFile(relativePath: string, content: Buffer | string): Promise<void> {
    this.assertLive();
    this.files.set(normalize(relativePath), Buffer.from(content));
  }

  async listFiles(): Promise<string[]> {
    this.assertLive();
    return [...this.files.keys()].sort();
  }

  async scanFiles(options: WorkspaceScanOptions): Promise<WorkspaceScan> {
    this.assertLive();
    const scan: WorkspaceScan = { entries: [], truncated: false, aborted: false };
    for (const relativePath of this.files.keys()) {
      if (options.signal?.aborted === true) {
        scan.aborted = true;
        break;
      }
      if (scan.entries.length >= options.maxEntries) {
        scan.truncated = true;
        break;
      }
      if (relativePath.split('/').length - 1 > (options.maxDepth ?? 64)) {
        scan.truncated = true;
        continue;
      }
      scan.entries.push({ path: Buffer.from(relativePath, 'utf8'), ...this.identity(relativePath) });
    }
    return scan;
  }

  async readFileBytes(relativePath: Buffer, options: WorkspaceReadOptions): Promise<WorkspaceFileRead> {
    this.assertLive();
    options.signal?.throwIfAborted();
    if (!Buffer.isBuffer(relativePath)) throw new HangarError('VALIDATION_FAILED', 'workspace paths are bytes');
    const key = normalize(relativePath.toString('utf8'));
    if (!this.files.has(key)) throw new HangarError('NOT_FOUND', `no such file in the workspace: ${key}`);
    const stat = this.identity(key);
    if (stat.size > options.maxBytes) return { stat, tooLarge: true };
    const content = this.files.get(key) as Buffer;
    const read: WorkspaceFileRead = { stat, tooLarge: false, sha256: createHash('sha256').update(content).digest('hex') };
    if (options.keepContent === true) read.content = Buffer.from(content);
    return read;
  }

  async stats(): Promise<SandboxStats> {
    return { oomKills: 0, processCount: 0 };
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.files.clear();
    this.onDestroy();
  }

  private identity(relativePath: string): WorkspaceFileStat {
    const content = this.files.get(relativePath) ?? Buffer.alloc(0);
    let known = this.identities.get(relativePath);
    if (known?.content !== content) {
      known = { content, ino: known?.ino ?? nextInode++, ctimeNs: process.hrtime.bigint() };
      this.identities.set(relativePath, known);
    }
    const size = content.length;
    return { size, allocatedBytes: Math.ceil(size / BLOCK_BYTES) * BLOCK_BYTES, mtimeNs: known.ctimeNs, ctimeNs: known.ctimeNs, ino: known.ino };
  }

  private assertLive(): void {
    if (this.destroyed) throw new HangarError('SANDBOX_FAILED', `sandbox ${this.id} is destroyed`);
  }
}

export interface InMemorySandboxProvider extends SandboxProvider {
  /** Live sandboxes by id (tests inspect their files). */
  readonly sandboxes: ReadonlyMap<string, Sandbox & { readonly files: Map<string, Buffer> }>;
}

export function createInMemorySandboxProvider(): InMemorySandboxProvider {
  const sandboxes = new Map<string, InMemorySandbox>();
  return {
    name: 'in-memory',
    sandboxes,
    async create(spec: SandboxSpec): Promise<Sandbox> {
      for (const key of ['memoryMb', 'cpus', 'diskMb', 'pids'] as const) {
        const value = spec.resources?.[key];
        if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
          throw new HangarError('VALIDATION_FAILED', `sandbox resources.${key} must be a positive number`);
        }
      }
      const id = spec.id ?? newSandboxId('mem');
      if (sandboxes.has(id)) throw new HangarError('CONFLICT', `sandbox ${id} already exists`);
      const sandbox = new InMemorySandbox(id, () => sandboxes.delete(id));
      sandboxes.set(id, sandbox);
      return sandbox;
    },
    async close(): Promise<void> {
      await Promise.all([...sandboxes.values()].map((sandbox) => sandbox.destroy()));
    },
  };
}
