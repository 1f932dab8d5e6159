// Composition root: builds Hangar's parts from the configuration (store, model gateway, sandbox
// provider, task service, HTTP API) and tears them down in reverse order. The data directory's
// lock and the API's port come first: a second owner or a port in use fails before anything exists.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApiServer } from './api/server.js';
import { resolveDataPaths, type HangarConfig } from './config/config.js';
import { startAuthentication } from './auth/start-authentication.js';
import { startEgress } from './egress/start-egress.js';
import { startModelGateway, type ModelGateway } from './gateway/model-gateway.js';
import { DEMO_SCENARIO } from './model/demo-scenario.js';
import { startScriptedModelServer } from './model/scripted-model-server.js';
import { resolveBundledClaudeExecutable } from './runner/agent-runner.js';
import { createSdkAgentLauncher } from './runner/sdk-agent-launcher.js';
import { acquireDataDirLock } from './runtime/data-dir-lock.js';
import { reservePort } from './runtime/port-reservation.js';
import { createSandboxProvider } from './sandbox/registry.js';
import type { SandboxProvider } from './sandbox/sandbox-provider.js';
import { createAdmission, defaultMaxLive, readHostCapacity } from './sessions/admission.js';
import { createEventHub, type EventHub } from './sessions/event-hub.js';
import { agentSandboxSpec, resolveResources } from './sessions/resources.js';
import { createSessionManager, type SessionManager } from './sessions/session-manager.js';
import { createTaskService, type TaskService } from './tasks/task-service.js';
import { createAgentSessionStore } from './store/agent-session-store.js';
import { createLocalBlobStore } from './store/blobs/local.js';
import { createStore } from './store/registry.js';
import { DEFAULT_TENANT_ID, type Store } from './store/store.js';
import { HANGAR_VERSION } from './version.js';
import { createTenantDirectory } from './tenants/tenant-directory.js';
import { mayUseConfiguredSecret } from './tenants/policy-check.js';
import { createSessionPolicyCheck } from './tenants/session-policy.js';
import { createTenantGatewayLimits } from './gateway/tenant-limits.js';

export interface Hangar {
  readonly app: FastifyInstance;
  readonly config: HangarConfig;
  readonly store: Store;
  readonly gateway: ModelGateway;
  readonly sandboxProvider: SandboxProvider;
  readonly taskService: TaskService;
  readonly sessionManager: SessionManager;
  readonly eventHub: EventHub;
  /** Listens on the port reserved at creation; resolves with the base URL. */
  listen(): Promise<string>;
  /** Interrupts running tasks, destroys their sandboxes, stops the servers, closes the store. */
  close(): Promise<void>;
}

export interface CreateHangarOptions {
  logger: Logger;
  /** Overrides the sandbox provider chosen by the configuration (tests of upper layers). */
  sandboxProvider?: SandboxProvider;
  /** What this process is, as a refused second owner of the data directory is told (default `hangar`). */
  owner?: string;
  /**
   * Serve the scripted demo model (model/demo-scenario.ts) as the model upstream, whatever the
   * configuration names: every answer says it is a demo.
   */
  demo?: boolean;
  /**
   * Bind the API's port first, right after the data directory's lock, so a port in use fails here
   * before anything else exists (the CLI does); listen() then uses it. Otherwise listen() binds it.
   */
  reservePort?: boolean;
}

/** The key the gateway sends to the demo model (which checks none). */
const DEMO_API_KEY = 'hangar-demo';

export async function createHangar(config: HangarConfig, options: CreateHangarOptions): Promise<Hangar> {
  const { logger } = options;
  const paths = resolveDataPaths(config);
  mkdirSync(paths.dataDir, { recursive: true });
  // One data directory, one owner: nothing in it is touched before this (runtime/data-dir-lock.ts).
  const lock = acquireDataDirLock(paths.dataDir, options.owner ?? 'hangar');
  const closers: Array<() => Promise<void>> = [async () => lock.release()];
  try {
    const reservation = options.reservePort === true ? await reservePort(config.server.host, config.server.port) : undefined;
    if (reservation !== undefined) closers.unshift(() => reservation.release());
    const demo = options.demo === true ? await startScriptedModelServer({ scenario: DEMO_SCENARIO, host: '127.0.0.1', port: 0, logger: false }) : undefined;
    if (demo !== undefined) closers.unshift(() => demo.close());
    const store = await createStore(config, paths);
    closers.unshift(() => store.close());
    // Tenants: the default one always exists; every tenant's policy is read through the directory.
    const tenants = createTenantDirectory(store);
    await tenants.ensureDefault();
    const upstreamApiKey = demo !== undefined ? DEMO_API_KEY : config.gateway.upstreamApiKey;
    const gateway = await startModelGateway({
      socketPath: path.join(paths.runDir, 'model-gateway.sock'),
      upstreamUrl: demo?.url ?? config.gateway.upstreamUrl,
      ...(upstreamApiKey !== undefined ? { upstreamApiKey } : {}),
      ...(demo === undefined && config.gateway.upstreamApiKeyFile !== undefined ? { upstreamApiKeyFile: config.gateway.upstreamApiKeyFile } : {}),
      retry: config.gateway.retry,
      prices: config.pricing,
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
      tenantLimits: createTenantGatewayLimits({
        policies: tenants,
        usage: store.tenantUsage,
        prices: config.pricing,
        logger: logger.child({ component: 'gateway' }),
      }),
      logger: logger.child({ component: 'gateway' }),
    });
    closers.unshift(() => gateway.close());
    // What sandboxes may reach besides the model: nothing unless a task or session names it.
    const startedEgress = await startEgress({
      config,
      dataDir: paths.dataDir,
      runDir: paths.runDir,
      store,
      logger: logger.child({ component: 'egress' }),
      // Checked again at each sandbox set-up: a configured secret only for a tenant whose policy lets it.
      mayUseConfigured: async (tenantId, name) =>
        mayUseConfiguredSecret({ policy: await tenants.policyOf(tenantId), isDefaultTenant: tenantId === DEFAULT_TENANT_ID }, name),
    });
    closers.unshift(() => startedEgress.close());
    const egress = startedEgress.egress;
    const sandboxProvider = options.sandboxProvider ?? createSandboxProvider(config, paths, logger.child({ component: 'sandbox' }));
    closers.unshift(() => sandboxProvider.close());
    const claudeExecutable = config.agent.claudeExecutable ?? resolveBundledClaudeExecutable();
    // The first task need not wait for a sandbox either: the pool of the default shape fills now.
    sandboxProvider.prewarm?.(agentSandboxSpec(config, { gateway, claudeExecutable, egress }, resolveResources(config, undefined)));
    // One ceiling of live sandboxes for tasks, sessions and shared sandboxes (429 beyond it).
    const admission = createAdmission({
      maxLive:
        config.sandbox.maxLive ??
        defaultMaxLive(readHostCapacity(), {
          uidRangeSize: config.sandbox.uidRangeSize,
          defaultPids: config.sandbox.defaults.pids,
          hostPidsCeiling: config.sandbox.hostLimits.pids,
        }),
    });
    const eventHub = createEventHub(store.events);
    const launcher = createSdkAgentLauncher();
    const taskService = createTaskService({
      config,
      store,
      sandboxProvider,
      gateway,
      egress,
      launcher,
      claudeExecutable,
      admission,
      tenants,
      events: eventHub,
      logger: logger.child({ component: 'tasks' }),
    });
    const interrupted = await taskService.recover();
    if (interrupted > 0) logger.warn({ interrupted }, 'tasks left running by a previous process were marked interrupted');
    closers.unshift(() => taskService.shutdown());
    const sessionManager = createSessionManager({
      config,
      store,
      blobs: createLocalBlobStore({ directory: paths.blobDir }),
      sandboxProvider,
      gateway,
      egress,
      agentSessionStore: createAgentSessionStore(store.transcripts),
      events: eventHub,
      launcher,
      claudeExecutable,
      admission,
      tenants,
      policyCheck: createSessionPolicyCheck({ tenants, secretNames: (tenantId) => startedEgress.tenantSecrets.names(tenantId), config }),
      logger: logger.child({ component: 'sessions' }),
    });
    await sessionManager.start();
    closers.unshift(() => sessionManager.shutdown());
    const checkSandboxHost = sandboxProvider.checkHost?.bind(sandboxProvider);
    const authenticator = await startAuthentication(config, store, paths.dataDir, logger, tenants);
    const app = await buildApiServer({
      config,
      taskService,
      sessionManager,
      eventHub,
      store,
      logger,
      version: HANGAR_VERSION,
      admission,
      tenants,
      tenantSecrets: startedEgress.tenantSecrets,
      checkSandboxHost,
      ...(authenticator !== undefined ? { authenticator } : {}),
    });
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
        await reservation?.release();
        const url = await app.listen({ host: config.server.host, port: reservation?.port ?? config.server.port });
        lock.setUrl(url);
        return url;
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
