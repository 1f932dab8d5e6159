// The setup of the model gateway's tests: an HTTP upstream on loopback answering with the test's
// own handler, and the gateway on a unix socket in front of it, with an undici client of that socket.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Agent } from 'undici';
import { afterAll, beforeAll } from 'vitest';
import { startModelGateway, type ModelGateway, type ModelGatewaySettings } from '../../src/gateway/model-gateway.js';

export interface Upstream {
  /** http://127.0.0.1:<port> */
  url: string;
  close(): Promise<void>;
}

/** Starts an HTTP server on a free loopback port that answers every request with `handler`. */
export async function startUpstream(handler: http.RequestListener): Promise<Upstream> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface GatewayWithClient {
  gateway: ModelGateway;
  /** Sends requests to the gateway's socket (any host name in the URL). */
  client: Agent;
  close(): Promise<void>;
}

/** Settings of a test gateway: silent logs and a 10 s upstream timeout unless given. */
export type TestGatewaySettings = Omit<ModelGatewaySettings, 'logger' | 'requestTimeoutMs'> & Partial<Pick<ModelGatewaySettings, 'requestTimeoutMs'>>;

/** Starts the model gateway and a client of its socket. */
export async function startGatewayWithClient(settings: TestGatewaySettings): Promise<GatewayWithClient> {
  const gateway = await startModelGateway({ requestTimeoutMs: 10_000, logger: pino({ level: 'silent' }), ...settings });
  const client = new Agent({ connect: { socketPath: gateway.socketPath } });
  return {
    gateway,
    client,
    async close() {
      await client.close();
      await gateway.close();
    },
  };
}

export interface GatewayOverUpstream {
  /** A temporary directory of the test's, holding the gateway's socket; removed after the tests. */
  readonly directory: string;
  readonly gateway: ModelGateway;
  readonly client: Agent;
}

type OverUpstreamSettings = Partial<Omit<ModelGatewaySettings, 'socketPath' | 'upstreamUrl'>>;

/**
 * In a describe block: before the tests, an upstream answering with `handler` and a gateway in front
 * of it (socket `gateway.sock` in a new directory named `prefix`..., `settings` on top of the
 * defaults; a function of the directory is called just before the gateway starts) with its client;
 * after them, all closed and the directory removed.
 */
export function useGatewayOverUpstream(
  prefix: string,
  handler: http.RequestListener,
  settings: OverUpstreamSettings | ((directory: string) => OverUpstreamSettings) = {},
): GatewayOverUpstream {
  const directory = mkdtempSync(path.join(tmpdir(), prefix));
  let upstream: Upstream | undefined;
  let started: GatewayWithClient | undefined;
  beforeAll(async () => {
    upstream = await startUpstream(handler);
    const own = typeof settings === 'function' ? settings(directory) : settings;
    started = await startGatewayWithClient({ socketPath: path.join(directory, 'gateway.sock'), upstreamUrl: upstream.url, ...own });
  });
  afterAll(async () => {
    await started?.close();
    await upstream?.close();
    rmSync(directory, { recursive: true, force: true });
  });
  const running = (): GatewayWithClient => {
    if (started === undefined) throw new Error('useGatewayOverUpstream: the gateway starts before the tests');
    return started;
  };
  return {
    directory,
    get gateway() {
      return running().gateway;
    },
    get client() {
      return running().client;
    },
  };
}
