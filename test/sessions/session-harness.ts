// The session manager on fakes, for unit tests: the fake agent launcher, the in-memory store, blob
// store and sandbox provider, the in-memory checkpoint archiver, a fake gateway and a manual clock.
// No root, no CLI, no model. `restart()` makes a second manager over the same store and blobs, as
// a new process would.
import pino from 'pino';
import { vi } from 'vitest';
import { parseConfig, type HangarConfig } from '../../src/config/config.js';
import { createFakeAgentLauncher, type FakeAgentLauncher, type FakeAgentLauncherOptions } from '../../src/runner/fake-agent-launcher.js';
import { createInMemorySandboxProvider, type InMemorySandboxProvider } from '../../src/sandbox/providers/in-memory.js';
import { createManualClock, type ManualClock } from '../../src/sessions/clock.js';
import { createEventHub } from '../../src/sessions/event-hub.js';
import { inMemoryArchiver } from '../../src/sessions/in-memory-archiver.js';
import { createSessionManager, type SessionManager } from '../../src/sessions/session-manager.js';
import { createAgentSessionStore } from '../../src/store/agent-session-store.js';
import type { BlobStore } from '../../src/store/blobs/blob-store.js';
import { createInMemoryBlobStore } from '../../src/store/blobs/in-memory.js';
import { createInMemoryStore } from '../../src/store/in-memory/index.js';
import type { SessionEvent, SessionRecord, Store } from '../../src/store/store.js';
import type { SessionPolicyCheck } from '../../src/tenants/session-policy.js';
import type { TenantPolicies } from '../../src/tenants/tenant-share.js';
import { createFakeGateway, type FakeGateway } from '../helpers/fake-gateway.js';

export interface SessionHarness {
  config: HangarConfig;
  store: Store;
  blobs: BlobStore;
  provider: InMemorySandboxProvider;
  gateway: FakeGateway;
  clock: ManualClock;
  launcher: FakeAgentLauncher;
  manager: SessionManager;
  /** The session's events, in order. */
  events(sessionId: string): Promise<SessionEvent[]>;
  /** Waits until the session is at rest (not running, nothing queued or running) with this many turns done. */
  waitForTurns(sessionId: string, turns: number): Promise<SessionRecord>;
  /**
   * Starts another manager over the same store and blobs (start() included), as a new process would:
   * after a shutdown of this one, or with crash: true, without (this one's clock then stands still).
   */
  restart(options?: FakeAgentLauncherOptions & { crash?: boolean }): Promise<SessionHarness>;
  shutdown(): Promise<void>;
}

export interface HarnessOptions extends FakeAgentLauncherOptions {
  /** Configuration on top of the defaults (as a hangar.config.json would give it). */
  config?: Record<string, unknown>;
  /** The tenant policy check the manager runs before a message or a fork (none: no check). */
  policyCheck?: SessionPolicyCheck;
  /** Tenant policies (ceilings of live sandboxes and open sessions); none: no tenant has any. */
  tenants?: TenantPolicies;
}

const logger = pino({ level: 'silent' });
/** Managers started and not shut down (a crashed one is left as it is). */
const running = new Set<SessionHarness>();

/** Shuts down every manager the test started: `afterEach(shutdownSessionHarnesses)`. */
export async function shutdownSessionHarnesses(): Promise<void> {
  const open = [...running];
  running.clear();
  await Promise.all(open.map((harness) => harness.manager.shutdown()));
}

async function build(options: HarnessOptions, shared?: { store: Store; blobs: BlobStore; clock: ManualClock; config: HangarConfig }): Promise<SessionHarness> {
  const config = shared?.config ?? parseConfig(options.config ?? {});
  const store = shared?.store ?? createInMemoryStore();
  const blobs = shared?.blobs ?? createInMemoryBlobStore();
  const clock = shared?.clock ?? createManualClock();
  const provider = createInMemorySandboxProvider();
  const gateway = createFakeGateway();
  const launcher = createFakeAgentLauncher({ ...options, onUsage: options.onUsage ?? ((token, model, usage) => gateway.meter(token, model, usage)) });
  const manager = createSessionManager({
    config,
    store,
    blobs,
    sandboxProvider: provider,
    gateway,
    agentSessionStore: createAgentSessionStore(store.transcripts),
    events: createEventHub(store.events),
    launcher,
    claudeExecutable: '/opt/claude/claude',
    logger,
    clock,
    archiver: inMemoryArchiver,
    ...(options.policyCheck !== undefined ? { policyCheck: options.policyCheck } : {}),
    ...(options.tenants !== undefined ? { tenants: options.tenants } : {}),
  });
  await manager.start();
  const harness: SessionHarness = {
    config,
    store,
    blobs,
    provider,
    gateway,
    clock,
    launcher,
    manager,
    events: (sessionId) => store.events.read(sessionId, { after: 0, limit: 10_000 }),
    async waitForTurns(sessionId, turns) {
      return vi.waitFor(
        async () => {
          const session = await manager.get(sessionId);
          const open = await store.messages.list(sessionId, { statuses: ['queued', 'running'], limit: 10 });
          if (session.status === 'running' || open.length > 0 || session.turns < turns)
            throw new Error(`session ${sessionId}: ${session.status}, ${session.turns} turns, ${open.length} open`);
          return session;
        },
        { timeout: 5_000, interval: 5 },
      );
    },
    async restart(next = {}) {
      running.delete(harness);
      if (next.crash !== true) await manager.shutdown();
      return build(next, { store, blobs, clock: createManualClock(clock.now()), config });
    },
    shutdown() {
      running.delete(harness);
      return manager.shutdown();
    },
  };
  running.add(harness);
  return harness;
}

export function sessionHarness(options: HarnessOptions = {}): Promise<SessionHarness> {
  return build(options);
}

/** A promise and the function that resolves it. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}
