// What every part of the session manager shares: its dependencies, what this process holds for
// live sessions and shared sandboxes, and the small record helpers (read, status, publish).
import type { SessionStore } from '@anthropic-ai/claude-agent-sdk';
import type { Logger } from 'pino';
import type { SandboxEgress } from '../egress/sandbox-egress.js';
import type { RecordedNetworkOptions } from '../runner/agent-options.js';
import type { HangarConfig, ResourceLimits } from '../config/config.js';
import { HangarError } from '../errors/errors.js';
import type { ModelGateway } from '../gateway/model-gateway.js';
import type { AgentSession, AgentLauncher } from '../runner/agent-launcher.js';
import type { AgentOptions, AgentPermissionMode } from '../runner/agent-options.js';
import type { Sandbox, SandboxProvider } from '../sandbox/sandbox-provider.js';
import type { BlobStore } from '../store/blobs/blob-store.js';
import type { SessionRecord, SharedSandboxRecord, Store } from '../store/store.js';
import type { SessionPolicyCheck } from '../tenants/session-policy.js';
import type { TenantPolicies } from '../tenants/tenant-share.js';
import type { Admission, GuardedSandboxProvider, TenantShare } from './admission.js';
import { policyViolation } from '../tenants/policy-check.js';
import { tenantShareOf } from '../tenants/tenant-share.js';
import { isoNow, systemClock, type Clock, type TimerHandle } from './clock.js';
import type { EventHub } from './event-hub.js';
import type { SandboxStateArchiver } from './workspace-snapshots.js';

/** What sessions need of the model gateway: a token per session and the usage it metered. */
export type SessionGateway = Pick<
  ModelGateway,
  'socketPath' | 'upstreamLabel' | 'registerSession' | 'revokeSession' | 'setBudget' | 'drainUsage' | 'forgetSession'
>;

export interface SessionManagerDependencies {
  config: HangarConfig;
  store: Store;
  blobs: BlobStore;
  sandboxProvider: SandboxProvider;
  gateway: SessionGateway;
  agentSessionStore: SessionStore;
  events: EventHub;
  /** Runs the agents (runner/agent-launcher.ts): the SDK in production, a fake in unit tests. */
  launcher: AgentLauncher;
  claudeExecutable: string;
  logger: Logger;
  /** Counts live sandboxes against sandbox.maxLive (none: no ceiling). */
  admission?: Admission;
  /** Time and timers (default: the system clock). */
  clock?: Clock;
  /** How checkpoints archive a sandbox's workspace and HOME (default: tar inside the sandbox). */
  archiver?: SandboxStateArchiver;
  /** The egress proxy (egress/sandbox-egress.ts); none: sandboxes reach nothing but the model. */
  egress?: SandboxEgress;
  /** Tenant policies (maxConcurrentSandboxes); none: no tenant has a ceiling of its own. */
  tenants?: TenantPolicies;
  /** Checks a session's options against its tenant's policy now, before a message is queued or a fork made; none: no check. */
  policyCheck?: SessionPolicyCheck;
}

/** A session's agent options (runner/agent-options.ts) and its own. */
export interface SessionOptionsInput extends Omit<AgentOptions, 'files'> {
  /** Seconds without a turn before a long-running session hibernates. */
  idleTimeoutSec?: number;
}

export interface CreateSessionInput extends SessionOptionsInput, Pick<AgentOptions, 'files'> {
  pattern: 'long-running' | 'hybrid';
  prompt?: string;
  metadata?: Record<string, string>;
  /** Run inside this shared sandbox (pattern 4); it must be the same tenant's. */
  sandboxId?: string;
  /** The tenant the session belongs to (default: the default tenant). */
  tenantId?: string;
}

/** Options a session runs with, after defaults (stored as the record's options). */
export interface ResolvedSessionOptions {
  allowedTools: string[];
  /** Absent in sessions recorded before the option existed. */
  disallowedTools?: string[];
  maxTurns: number;
  maxBudgetUsd: number | null;
  permissionMode: AgentPermissionMode;
  appendSystemPrompt: string | null;
  model: string | null;
  resources: ResourceLimits;
  idleTimeoutSec: number;
  /** What the agent may reach through the egress proxy; absent: nothing. */
  network?: RecordedNetworkOptions;
}

/** What this process holds for a session that has a sandbox right now. */
export interface LiveSession {
  sandbox: Sandbox;
  /** False when the sandbox is shared and outlives the session. */
  ownsSandbox: boolean;
  agent: AgentSession | undefined;
  idleTimer: TimerHandle | undefined;
}

/** A shared sandbox (pattern 4) running in this process, and the sessions placed in it. */
export interface LiveSharedSandbox {
  record: SharedSandboxRecord;
  sandbox: Sandbox;
  members: Set<string>;
}

export interface SessionContext {
  readonly config: HangarConfig;
  readonly store: Store;
  readonly gateway: SessionGateway;
  readonly events: EventHub;
  readonly launcher: AgentLauncher;
  readonly egress: SandboxEgress | undefined;
  readonly claudeExecutable: string;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly admission: Admission;
  /** The provider behind admission: every sandbox made through it counts until destroyed. */
  readonly sandboxProvider: GuardedSandboxProvider;
  /** The tenant's share of live sandboxes (its policy's ceiling), for admission. */
  tenantShare(tenantId: string): Promise<TenantShare>;
  /** Fails with POLICY_VIOLATION when the session's options are beyond its tenant's policy now. */
  checkPolicy(session: SessionRecord): Promise<void>;
  /** Fails with POLICY_VIOLATION when the tenant has as many open sessions as its policy allows (a new session or fork would pass it). */
  assertSessionRoom(tenantId: string): Promise<void>;
  readonly live: Map<string, LiveSession>;
  readonly sharedSandboxes: Map<string, LiveSharedSandbox>;
  /** Session id -> the message id of the turn running now. */
  readonly runningTurns: Map<string, string>;
  /** Sessions whose running turn a client asked to stop. */
  readonly interruptRequested: Set<string>;
  /** The clock's time, ISO 8601. */
  nowIso(): string;
  /** Appends one event to the session's stream (a failure is logged, never thrown). */
  publish(sessionId: string, type: string, data: unknown): Promise<unknown>;
  /** The session, or SESSION_NOT_FOUND. */
  requireSession(sessionId: string): Promise<SessionRecord>;
  /** Records a new status (with extra fields) and publishes it. */
  setStatus(sessionId: string, status: SessionRecord['status'], extra?: Partial<SessionRecord>): Promise<SessionRecord>;
  optionsOf(session: SessionRecord): ResolvedSessionOptions;
}

export function createSessionContext(dependencies: SessionManagerDependencies, admission: Admission): SessionContext {
  const { config, store, gateway, events, launcher, claudeExecutable, logger } = dependencies;
  const clock = dependencies.clock ?? systemClock;
  const publish = (sessionId: string, type: string, data: unknown): Promise<unknown> =>
    events.publish(sessionId, [{ type, data }]).catch((error: unknown) => logger.error({ err: error, sessionId }, 'event publish failed'));
  return {
    config,
    store,
    gateway,
    events,
    launcher,
    egress: dependencies.egress,
    claudeExecutable,
    logger,
    clock,
    admission,
    // Every sandbox the sessions hold counts against the ceiling until it is destroyed.
    sandboxProvider: admission.guardProvider(dependencies.sandboxProvider),
    tenantShare: (tenantId) => tenantShareOf(dependencies.tenants, tenantId),
    checkPolicy: async (session) => dependencies.policyCheck?.(session),
    async assertSessionRoom(tenantId) {
      const limit = dependencies.tenants === undefined ? undefined : (await dependencies.tenants.policyOf(tenantId)).maxOpenSessions;
      if (limit === undefined) return;
      const open = await store.sessions.countOpen(tenantId);
      if (open >= limit) throw policyViolation(tenantId, 'maxOpenSessions', `${open} sessions are open, the limit is ${limit}: close one first`);
    },
    live: new Map(),
    sharedSandboxes: new Map(),
    runningTurns: new Map(),
    interruptRequested: new Set(),
    nowIso: () => isoNow(clock),
    publish,
    async requireSession(sessionId) {
      const session = await store.sessions.get(sessionId);
      if (session === undefined) throw new HangarError('SESSION_NOT_FOUND', `session ${sessionId} does not exist`);
      return session;
    },
    async setStatus(sessionId, status, extra = {}) {
      const updated = await store.sessions.update(sessionId, { ...extra, status });
      await publish(sessionId, 'status', { status });
      return updated;
    },
    optionsOf: (session) => session.options as unknown as ResolvedSessionOptions,
  };
}
