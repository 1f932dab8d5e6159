// In-process Hangar tests of egress secrets, without root: sandboxes are in-memory (tar for
// checkpoints) and their agent is a probe that, instead of the CLI, sends one HTTPS request through
// the egress proxy with the environment the agent got, as curl would, trusting Hangar's CA; the
// upstream is an HTTPS server on 127.0.0.2 (the test allows it with egress.allowPrivateNetworks and
// names it with egress.hosts) whose certificate comes from a CA of its own (egress.extraCaFile).
import { EventEmitter, once } from 'node:events';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { SpawnedProcess } from '@anthropic-ai/claude-agent-sdk';
import { parseConfig, type HangarConfig } from '../../src/config/config.js';
import { createCertificateAuthority, generateCa } from '../../src/egress/index.js';
import type { SandboxProvider, SandboxSpawnRequest } from '../../src/sandbox/sandbox-provider.js';
import { connectThrough, proxyAuth, textAnswer } from './proxy-client.js';
import { createTarInMemorySandboxProvider } from './tar-in-memory-provider.js';

/** What one probe saw: the agent's environment and the answer it got ("200 body", or "CONNECT 403"). */
export interface Probe {
  env: Record<string, string>;
  answer: string;
}

/** An agent process that sends its one request, then exits 1 (the turn or task fails; that is not what is tested). */
class ProbeProcess extends EventEmitter {
  readonly stdin = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  readonly stdout = new PassThrough();
  killed = false;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;

  constructor(probe: Promise<unknown>) {
    super();
    void probe.finally(() => {
      this.stdout.end();
      this.exitCode = 1;
      this.emit('exit', 1, null);
    });
  }

  kill(): boolean {
    return false;
  }
}

export interface SecretUpstream {
  /** The name it answers to (egress.hosts maps it to 127.0.0.2). */
  hostname: string;
  /** `hostname:port`, for allowedHosts and a secret's hosts. */
  target: string;
  /** The upstream CA's certificate file, for egress.extraCaFile. */
  caFile: string;
  /** The headers of every request, in order. */
  seen: IncomingHttpHeaders[];
  close(): void;
}

/** An HTTPS server for `hostname` on 127.0.0.2 answering `answer(headers)`; its CA is written under `directory`. */
export async function startSecretUpstream(options: {
  hostname: string;
  directory: string;
  answer: (headers: IncomingHttpHeaders) => string;
}): Promise<SecretUpstream> {
  const upstreamCa = await generateCa(`${options.hostname} test CA`);
  const leaf = await (await createCertificateAuthority(upstreamCa)).leafFor(options.hostname);
  const seen: IncomingHttpHeaders[] = [];
  const server = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (incoming, response) => {
    seen.push(incoming.headers);
    response.end(options.answer(incoming.headers));
  });
  server.listen(0, '127.0.0.2');
  await once(server, 'listening');
  const caFile = path.join(options.directory, 'upstream-ca.pem');
  writeFileSync(caFile, upstreamCa.certPem);
  return {
    hostname: options.hostname,
    target: `${options.hostname}:${(server.address() as AddressInfo).port}`,
    caFile,
    seen,
    close: () => void server.close(),
  };
}

/**
 * The configuration of an in-process Hangar for these tests: its egress proxy reaches `upstream`
 * (named by egress.hosts, allowed on 127.0.0.2, its CA trusted), with the configured `secrets`; the
 * model upstream is a closed port (the probes never call it).
 */
export function probeHangarConfig(
  dataDir: string,
  upstream: SecretUpstream,
  options: { authMode: 'keys' | 'none'; secrets: Record<string, { env: string; hosts: string[] }> },
): HangarConfig {
  return parseConfig({
    dataDir,
    logLevel: 'silent',
    auth: { mode: options.authMode },
    gateway: { upstreamUrl: 'http://127.0.0.1:9', upstreamApiKey: 'sk-unused' },
    egress: {
      hosts: { [upstream.hostname]: '127.0.0.2' },
      allowPrivateNetworks: ['127.0.0.2/32'],
      extraCaFile: upstream.caFile,
      secrets: options.secrets,
    },
  });
}

/**
 * Sends GET `path` to `target` as an agent with `env` would: CONNECT through the egress proxy's
 * socket with the proxy credentials of its HTTPS_PROXY, then TLS trusting Hangar's CA, with `headers`.
 */
export async function probeThroughProxy(options: {
  env: Record<string, string>;
  runDir: string;
  dataDir: string;
  target: string;
  path: string;
  headers: Record<string, string>;
}): Promise<string> {
  const token = /^http:\/\/hangar:([^@]+)@/.exec(options.env.HTTPS_PROXY ?? '')?.[1];
  const { socket, status } = await connectThrough(path.join(options.runDir, 'egress-proxy.sock'), options.target, proxyAuth(token ?? 'none'));
  if (socket === undefined) return `CONNECT ${status}`;
  const ca = readFileSync(path.join(options.dataDir, 'egress', 'egress-ca.pem'), 'utf8');
  const answer = await textAnswer(
    httpsRequest({
      createConnection: () => tlsConnect({ socket, servername: options.target.split(':')[0], ca }),
      path: options.path,
      headers: { host: options.target, ...options.headers },
    }),
  ).catch((error: Error) => ({ status: 0, body: error.message }));
  return `${answer.status} ${answer.body}`;
}

/** The tar provider whose agent processes (those given the proxy's environment) are probes: `probe` runs with the agent's environment. */
export function probingSandboxProvider(scratch: string, probe: (env: Record<string, string>) => Promise<void>): SandboxProvider {
  const inner = createTarInMemorySandboxProvider(scratch);
  return {
    name: inner.name,
    async create(spec) {
      const sandbox = await inner.create(spec);
      const spawnInside = sandbox.spawn.bind(sandbox);
      return Object.assign(Object.create(sandbox) as typeof sandbox, {
        spawn: (request: SandboxSpawnRequest): SpawnedProcess =>
          request.env.HTTPS_PROXY === undefined ? spawnInside(request) : (new ProbeProcess(probe(request.env)) as unknown as SpawnedProcess),
      });
    },
    close: () => inner.close(),
  };
}

/** Everything of the SQLite database files (file, WAL) in `dataDir`, as one latin1 string to search. */
export function databaseBytes(dataDir: string): string {
  return readdirSync(dataDir)
    .filter((file) => file.includes('.db') || file.includes('sqlite'))
    .map((file) => readFileSync(path.join(dataDir, file)).toString('latin1'))
    .join('');
}
