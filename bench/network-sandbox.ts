// The network bench's real path: curl inside a local sandbox, reaching the egress proxy the way an
// agent does (its loopback port 4101, the socat bridge, the proxy's unix socket), against the same
// curl on the host straight to the server. curl times itself (-w), so starting it is not counted.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { promisify } from 'node:util';
import { createLocalSandboxProvider } from '../src/sandbox/providers/local/index.js';
import type { Sandbox } from '../src/sandbox/sandbox-provider.js';

const run = promisify(execFile);

/** The proxy's port inside a sandbox, as Hangar bridges it. */
const PROXY_PORT = 4101;
/** What curl prints for each transfer: the CONNECT answer, the answer, bytes, seconds to the end. */
const WRITE_OUT = '%{http_connect} %{http_code} %{size_download} %{time_total}\\n';

export interface CurlTransfer {
  bytes: number;
  totalMs: number;
}

export interface CurlPaths {
  /** `count` GETs of `url` on new connections, inside the sandbox through the proxy (CONNECT tunnels). */
  inSandbox(url: string, count: number): Promise<CurlTransfer[]>;
  /** The same on the host, straight to the server. */
  onHost(url: string, count: number): Promise<CurlTransfer[]>;
  close(): Promise<void>;
}

/** A shell loop running curl `count` times on new connections. */
function curlLoop(curl: string, args: string[], url: string, count: number): string {
  const quoted = [...args, '-w', WRITE_OUT, url].map((arg) => `'${arg}'`).join(' ');
  return `for i in $(seq ${count}); do '${curl}' -s -o /dev/null ${quoted} || exit 1; done`;
}

function parseTransfers(stdout: string, tunnelled: boolean): CurlTransfer[] {
  return stdout
    .trim()
    .split('\n')
    .map((line) => {
      const [connect, status, bytes, seconds] = line.split(' ');
      if (status !== '200' || (tunnelled && connect !== '200')) throw new Error(`curl got ${line}`);
      return { bytes: Number(bytes), totalMs: Number(seconds) * 1000 };
    });
}

/** Creates a sandbox bridged to the proxy's socket, or says why this host cannot. */
export async function startCurlPaths(root: string, proxy: { socketPath: string; token: string }): Promise<CurlPaths | { skipped: string }> {
  const curl = ['/usr/bin/curl', '/usr/local/bin/curl', '/bin/curl'].find((candidate) => existsSync(candidate));
  if (curl === undefined) return { skipped: 'curl is not installed' };
  const provider = createLocalSandboxProvider({ rootDir: root, uidRangeStart: 304000, uidRangeSize: 10, warmPoolSize: 0 });
  let sandbox: Sandbox;
  try {
    sandbox = await provider.create({
      resources: { memoryMb: 1024, cpus: os.cpus().length, diskMb: 256, pids: 256 },
      bridges: [{ name: 'egress', hostSocketPath: proxy.socketPath, port: PROXY_PORT }],
    });
  } catch (error) {
    await provider.close();
    return { skipped: `no local sandbox: ${(error as Error).message}` };
  }
  const viaProxy = ['-p', '-x', `http://hangar:${proxy.token}@127.0.0.1:${PROXY_PORT}`];
  return {
    async inSandbox(url, count) {
      const result = await sandbox.exec('bash', ['-c', curlLoop(curl, viaProxy, url, count)], { timeoutMs: 600_000 });
      if (result.exitCode !== 0) throw new Error(`curl in the sandbox failed: ${result.stdout}${result.stderr}`);
      return parseTransfers(result.stdout, true);
    },
    async onHost(url, count) {
      const { stdout } = await run('bash', ['-c', curlLoop(curl, [], url, count)], { maxBuffer: 1024 * 1024 });
      return parseTransfers(stdout, false);
    },
    async close() {
      await sandbox.destroy();
      await provider.close();
    },
  };
}
