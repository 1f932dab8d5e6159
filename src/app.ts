// Composition root: builds Hangar's parts from the configuration (store, model gateway, sandbox
// provider, task service, HTTP API) and tears them down in reverse order.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApiServer } from './api/server.js';
import { resolveDataPaths, type HangarConfig } from './config/config.js';
import { startModelGateway, type ModelGateway } from './gateway/model-gateway.js';
import { resolveBundledClaudeExecutable } from './runner/agent-runner.js';
import { createSandboxProvider } from './sandbox/registry.js';
import type { SandboxProvider } from './sandbox/sandbox-provider.js';
import { createAdmission, defaultMaxLive, readHostCapacity } from './sessions/admission.js';
import { createEventHub, type EventHub } from './sessions/event-hub.js';
import { agentSandboxSpec, resolveResources } from './sessions/resources.js';
import { createSessionManager, type SessionManager } from './sessions/session-manager.js';
import { createTaskService, type TaskService } from './sessions/task-service.js';
import { createAgentSessionStore } from './store/agent-session-store.js';
import { createLocalBlobStore } from './store/local-blob-store.js';
import { createStore } from './store/registry.js';
import type { Store } from './store/store.js';
import { HANGAR_VERSION } from './version.js';

export interface Hangar {
  readonly app: FastifyInstance;
  readonly config: HangarConfig;
  readonly store: Store;
  readonly gateway: ModelGateway;
  readonly sandboxProvider: SandboxProvider;
  readonly taskService: TaskService;
  readonly sessionManager: SessionManager;
  readonly eventHub: EventHub;
  /** Starts listening; resolves with the base URL. */
  listen(): Promise<string>;
  /** Interrupts running tasks, destroys their sandboxes, stops the servers, closes the store. */
  close(): Promise<void>;
}

export interface CreateHangarOptions {
  logger: Logger;
  /** Overrides the sandbox provider chosen by the configuration (tests of upper layers). */
  sandboxProvider?: SandboxProvider;
}

export async function createHangar(config: HangarConfig, options: CreateHangarOptions): Promise<Hangar> {
  const { logger } = options;
  const paths = resolveDataPaths(config);
  mkdirSync(paths.dataDir, { recursive: true });
  const store = await createStore(config, paths);
  const closers: Array<() => Promise<void>> = [() => store.close()];
  try {
    const gateway = await startModelGateway({
      socketPath: path.join(paths.runDir, 'model-gateway.sock'),
      upstreamUrl: config.gateway.upstreamUrl,
      ...(config.gateway.upstreamApiKey !== undefined ? { upstreamApiKey: config.gateway.upstreamApiKey } : {}),
      requestTimeoutMs: config.gateway.requestTimeoutMs,
      maxRequestBytes: config.gateway.maxRequestBytes,
      maxConcurrentRequestsPerToken: config.gateway.maxConcurrentRequestsPerToken,
      maxInFlightBytesPerToken: config.gateway.maxInFlightBytesPerToken,
      maxInFlightBytes: config.gateway.maxInFlightBytes,
      headersTimeoutMs: config.gateway.headersTimeoutMs,
      bodyTimeoutMs: config.gateway.bodyTimeoutMs,
      maxConnections: config.gateway.maxConnections,
      allowedBetas: config.gateway.allowedBetas,
      allowedBodyFields: config.gateway.allowedBodyFields,
      allowServerTools: config.gateway.allowServerTools,
      logger: logger.child({ component: 'gateway' }),
    });
    closers.unshift(() => gateway.close());
    const sandboxProvider = options.sandboxProvider ?? createSandboxProvider(config, paths, logger.child({ component: 'sandbox' }));
    closers.unshift(() => sandboxProvider.close());
    const claudeExecutable = config.agent.claudeExecutable ?? resolveBundledClaudeExecutable();
    // The first task need not wait for a sandbox either: the pool of the default shape fills now.
    sandboxProvider.prewarm?.(agentSandboxSpec(config, { gateway, claudeExecutable }, resolveResources(config, undefined)));
    // One ceiling of live sandboxes for tasks, sessions and shared sandboxes (429 beyond it).
    const admission = createAdmission({
      maxLive: config.sandbox.maxLive ?? defaultMaxLive(readHostCapacity(), { uidRangeSize: config.sandbox.uidRangeSize, defaultPids: config.sandbox.defaults.pids }),
    });
    const eventHub = createEventHub(store.events);
    const taskService = createTaskService({ config, store, sandboxProvider, gateway, claudeExecutable, admission, events: eventHub, logger: logger.child({ component: 'tasks' }) });
    const interrupted = await taskService.recover();
    if (interrupted > 0) logger.warn({ interrupted }, 'tasks left running by a previous process were marked interrupted');
    closers.unshift(() => taskService.shutdown());
    const sessionManager = createSessionManager({
      config,
      store,
      blobs: createLocalBlobStore({ directory: paths.blobDir }),
      sandboxProvider,
      gateway,
      agentSessionStore: createAgentSessionStore(store.transcripts),
      events: eventHub,
      claudeExecutable,
      admission,
      logger: logger.child({ component: 'sessions' }),
    });
    await sessionManager.start();
    closers.unshift(() => sessionManager.shutdown());
    const app = await buildApiServer({ config, taskService, sessionManager, eventHub, store, logger, version: HANGAR_VERSION, admission });
    closers.unshift(async () => {
      // The server stops taking requests while running tasks are interrupted (bounded: server.shutdownDrainMs),
      // so the requests waiting on them answer; connections still open a second later (event streams) are cut.
      const closing = app.close();
      await taskService.shutdown();
      await Promise.race([closing, delay(1_000, undefined, { ref: false })]);
      app.server.closeAllConnections();
      await closing;
    });

    let closed = false;
    return {
      app,
      config,
      store,
      gateway,
      sandboxProvider,
      taskService,
      sessionManager,
      eventHub,
      async listen() {
        return app.listen({ host: config.server.host, port: config.server.port });
      },
      async close() {
        if (closed) return;
        closed = true;
        for (const close of closers) {
          await close().catch((error: unknown) => logger.error({ err: error }, 'shutdown step failed'));
        }
      },
    };
  } catch (error) {
    for (const close of closers) await close().catch(() => undefined);
    throw error;
  }
}
