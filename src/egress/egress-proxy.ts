// The egress proxy every sandbox shares: one HTTP proxy (CONNECT tunnels and plain http://
// requests) on a unix socket each sandbox reaches as a loopback port (a bridge, like the model
// gateway's), so every sandbox has the same shape and warm sandboxes serve any session. A session
// is registered with its network policy and secrets and gets a token; its tools send the token as
// proxy credentials (HTTP_PROXY=http://hangar:<token>@127.0.0.1:<port>), which is how the proxy
// knows whose policy applies. No token, or a revoked one: 407. Node's HTTP parser bounds the
// request head (16 KiB) and the time to send it; each session bounds its open connections.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { listenForSandboxes } from '../runtime/sandbox-socket.js';
import type { AddressPolicy } from './address-policy.js';
import type { EgressRecord } from './audit.js';
import type { CertificateAuthority } from './certificate-authority.js';
import { handleConnect, refuseRaw } from './connect-tunnel.js';
import { handleHttpRequest } from './http-forward.js';
import { refuseResponse } from './relay.js';
import { createEgressPolicy, type NetworkSettings } from './policy.js';
import { DEFAULT_PROXY_LIMITS, type ProxyContext, type ProxyLimits } from './proxy-context.js';
import type { Resolver } from './resolver.js';
import { createSecretSet, type EgressSecret } from './secrets.js';

/** The user name in a session's proxy credentials (the token is the password). */
export const PROXY_USER = 'hangar';

export interface EgressProxySettings {
  socketPath: string;
  resolver: Resolver;
  addresses: AddressPolicy;
  /** The installation CA; needed for sessions with secrets. */
  ca?: CertificateAuthority;
  /** CA certificates (PEM) to verify intercepted upstreams with instead of Node's bundled ones. */
  upstreamCa?: string | string[];
  limits?: Partial<ProxyLimits>;
  /** Every decision, with the session it was for. */
  onRecord: (sessionId: string, record: EgressRecord) => void;
}

export interface EgressRegistration {
  token: string;
  /** Secret name -> placeholder: what the sandbox's environment gets instead of each secret. */
  secretPlaceholders: Record<string, string>;
}

export interface EgressProxy {
  readonly socketPath: string;
  /** Gives a session its policy and secrets (replacing earlier ones); throws a RangeError on a bad policy or secret. */
  register(sessionId: string, settings: { network?: NetworkSettings; secrets?: readonly EgressSecret[] }): EgressRegistration;
  /** Ends a session's access: its token is refused, its open connections closed; resolves once their records are written. */
  revoke(sessionId: string): Promise<void>;
  close(): Promise<void>;
}

interface SessionEntry {
  sessionId: string;
  token: Buffer;
  context: ProxyContext;
  sockets: Set<Socket>;
  /** Requests being handled (each records its decision when it ends). */
  handling: Set<Promise<void>>;
}

/** The token in `Proxy-Authorization: Basic base64(hangar:<token>)`, if any. */
export function proxyToken(header: string | undefined): string | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header?.trim() ?? '');
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 || decoded.slice(0, colon) !== PROXY_USER ? undefined : decoded.slice(colon + 1);
}

export async function startEgressProxy(settings: EgressProxySettings): Promise<EgressProxy> {
  const limits: ProxyLimits = { ...DEFAULT_PROXY_LIMITS, ...settings.limits };
  const sessions = new Map<string, SessionEntry>();
  const byToken = new Map<string, SessionEntry>();

  /** The session whose credentials a request carries, checked in constant time against its token. */
  const sessionOf = (request: IncomingMessage): SessionEntry | undefined => {
    const token = proxyToken(request.headers['proxy-authorization']);
    const entry = token === undefined ? undefined : byToken.get(token);
    if (entry === undefined) return undefined;
    const presented = Buffer.from(token!);
    return presented.length === entry.token.length && timingSafeEqual(presented, entry.token) ? entry : undefined;
  };
  /** Counts a connection against its session's limit; false when the limit is reached. */
  const admit = (entry: SessionEntry, socket: Socket): boolean => {
    if (entry.sockets.has(socket)) return true;
    if (entry.sockets.size >= limits.maxConnections) return false;
    entry.sockets.add(socket);
    socket.once('close', () => entry.sockets.delete(socket));
    return true;
  };
  const track = (entry: SessionEntry, handling: Promise<void>): void => {
    entry.handling.add(handling);
    void handling.finally(() => entry.handling.delete(handling));
  };
  const proxyAuthRequired = 'proxy credentials missing or revoked: use the HTTP_PROXY this sandbox was given';
  const tooMany = `this session has ${limits.maxConnections} proxy connections open already`;

  const server = createServer({ maxHeaderSize: 16 * 1024, headersTimeout: 10_000, requestTimeout: 0, keepAliveTimeout: 5000 });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  server.on('connect', (request: IncomingMessage, socket: Socket, head: Buffer) => {
    const entry = sessionOf(request);
    if (entry === undefined) {
      socket.end(`HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="hangar"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    if (!admit(entry, socket)) return refuseRaw(socket, 429, 'Too Many Requests', tooMany);
    track(
      entry,
      handleConnect(entry.context, request, socket, head).catch((error: unknown) => refuseRaw(socket, 502, 'Bad Gateway', (error as Error).message)),
    );
  });
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const entry = sessionOf(request);
    const refuse = (status: number, reason: string, headers: Record<string, string> = {}): void => refuseResponse(response, status, reason, headers);
    if (entry === undefined) return refuse(407, proxyAuthRequired, { 'proxy-authenticate': 'Basic realm="hangar"' });
    if (!admit(entry, request.socket)) return refuse(429, tooMany);
    track(
      entry,
      handleHttpRequest(entry.context, request, response).catch(() => {
        response.destroy();
      }),
    );
  });
  server.on('clientError', (_error, socket: Socket) => {
    if (socket.writable) refuseRaw(socket, 400, 'Bad Request', 'malformed request');
    else socket.destroy();
  });
  server.maxConnections = 4096;

  await listenForSandboxes(server, settings.socketPath);

  const revoke = async (sessionId: string): Promise<void> => {
    const entry = sessions.get(sessionId);
    if (entry === undefined) return;
    sessions.delete(sessionId);
    byToken.delete(entry.token.toString());
    for (const socket of entry.sockets) socket.destroy();
    await Promise.allSettled([...entry.handling]);
  };

  return {
    socketPath: settings.socketPath,
    register(sessionId, options) {
      const policy = createEgressPolicy(options.network);
      const secrets = options.secrets !== undefined && options.secrets.length > 0 ? createSecretSet(options.secrets) : undefined;
      if (secrets !== undefined && settings.ca === undefined) throw new RangeError('secrets need the egress CA, which this proxy was started without');
      void revoke(sessionId);
      const token = randomBytes(24).toString('base64url');
      const context: ProxyContext = {
        policy,
        resolver: settings.resolver,
        addresses: settings.addresses,
        limits,
        record: (record) => settings.onRecord(sessionId, record),
        ...(secrets !== undefined && settings.ca !== undefined
          ? { interception: { ca: settings.ca, secrets, ...(settings.upstreamCa !== undefined ? { upstreamCa: settings.upstreamCa } : {}) } }
          : {}),
      };
      const entry: SessionEntry = { sessionId, token: Buffer.from(token), context, sockets: new Set(), handling: new Set() };
      sessions.set(sessionId, entry);
      byToken.set(token, entry);
      return { token, secretPlaceholders: secrets?.environment ?? {} };
    },
    revoke,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(settings.socketPath, { force: true });
    },
  };
}
