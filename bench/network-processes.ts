// The network bench's child processes, from the parent's side: the file server and the download
// client run as processes of their own (Node with tsx), so the egress proxy in the bench's process
// is charged only with its own CPU, as it is in service; and socat as a plain byte relay, for scale.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { FetchReply, FetchRequest } from './network-client.js';

const HERE = import.meta.dirname;

/**
 * Starts a child running `file` with tsx (inside the network namespace `namespace` when given); its
 * stdin is a pipe that closes when this process ends.
 */
function spawnTs(file: string, args: string[], ipc: boolean, namespace?: string): ChildProcess {
  const command = [process.execPath, '--import', 'tsx', path.join(HERE, file), ...args];
  const [program, ...rest] = namespace === undefined ? command : ['ip', 'netns', 'exec', namespace, ...command];
  return spawn(program!, rest, { stdio: ['pipe', 'pipe', 'inherit', ...(ipc ? (['ipc'] as const) : [])] });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

export interface ChildServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Starts bench/network-file-server.ts serving `size` bytes at /large, on loopback or inside a network
 * namespace on its address; resolves with its port.
 */
export async function startFileServer(size: number, inside?: { namespace: string; address: string }): Promise<ChildServer> {
  const child = spawnTs('network-file-server.ts', [String(size), ...(inside !== undefined ? [inside.address] : [])], false, inside?.namespace);
  let output = '';
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const line = output.split('\n')[0];
        if (output.includes('\n') && line !== undefined) resolve((JSON.parse(line) as { port: number }).port);
      });
      child.once('exit', (code) => reject(new Error(`the bench's file server exited (${code}) before it listened`)));
    });
    return { port, close: () => stop(child) };
  } catch (error) {
    await stop(child);
    throw error;
  }
}

export interface ChildClient {
  fetch(request: Omit<FetchRequest, 'id'>): Promise<Extract<FetchReply, { ok: true }>>;
  close(): Promise<void>;
}

/** Starts bench/network-client.ts; each fetch is one download on a new connection, timed in the child. */
export async function startClientProcess(): Promise<ChildClient> {
  const child = spawnTs('network-client.ts', [], true);
  const pending = new Map<number, (reply: FetchReply) => void>();
  const ready = new Promise<FetchReply>((resolve) => pending.set(0, resolve));
  child.on('message', (reply: FetchReply) => {
    pending.get(reply.id)?.(reply);
    pending.delete(reply.id);
  });
  child.once('exit', (code) => {
    for (const settle of pending.values()) settle({ id: -1, ok: false, error: `the bench's client exited (${code})` });
    pending.clear();
  });
  const first = await ready;
  if (!first.ok) throw new Error(first.error);
  let nextId = 0;
  return {
    async fetch(request) {
      const id = (nextId += 1);
      const reply = await new Promise<FetchReply>((resolve) => {
        pending.set(id, resolve);
        child.send({ ...request, id });
      });
      if (!reply.ok) throw new Error(reply.error);
      return reply;
    },
    close: () => stop(child),
  };
}

/** The buffer socat gets in the sandbox bridges (bridge-prelude.ts), and here. */
const SOCAT_BUFFER_BYTES = 262144;

/**
 * socat relaying each connection to `socketPath` to the server's port: the least any relay costs
 * (two more copies of each byte, one more process). Undefined when socat is not installed.
 */
export async function startSocatRelay(socketPath: string, port: number): Promise<{ close(): Promise<void> } | undefined> {
  const socat = ['/usr/bin/socat', '/usr/local/bin/socat', '/bin/socat'].find((candidate) => existsSync(candidate));
  if (socat === undefined) return undefined;
  rmSync(socketPath, { force: true });
  const child = spawn(socat, ['-b', String(SOCAT_BUFFER_BYTES), `UNIX-LISTEN:${socketPath},fork`, `TCP:127.0.0.1:${port}`], { stdio: 'ignore' });
  for (let waited = 0; !existsSync(socketPath); waited += 10) {
    if (waited > 5000 || child.exitCode !== null) {
      await stop(child);
      throw new Error(`socat did not listen on ${socketPath}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { close: () => stop(child) };
}
