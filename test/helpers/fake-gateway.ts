// A model gateway for unit tests of tasks and sessions: tokens per session id, and usage metered by
// hand (the fake agent launcher reports each step's usage under the run's token), as the real
// gateway meters the model calls a sandbox makes.
import { addUsage, ZERO_USAGE, type TokenUsage } from '../../src/store/store.js';
import type { GatewaySessionUsage } from '../../src/gateway/model-gateway.js';
import type { SessionGateway } from '../../src/sessions/session-manager.js';
import type { TaskGateway } from '../../src/tasks/task-service.js';

export interface FakeGateway extends SessionGateway, TaskGateway {
  /** Adds a model call's usage to the session the token was issued to. */
  meter(token: string, model: string, usage: TokenUsage): void;
  /** Tokens issued and not revoked. */
  readonly liveTokens: number;
  /** The budget each session was last given (setBudget). */
  readonly budgets: Map<string, { limitUsd: number; spentUsd: number }>;
}

const empty = (): GatewaySessionUsage => ({ total: { ...ZERO_USAGE }, byModel: {}, requests: 0, failedRequests: 0 });

export function createFakeGateway(): FakeGateway {
  const tokens = new Map<string, string>();
  const usage = new Map<string, GatewaySessionUsage>();
  const budgets = new Map<string, { limitUsd: number; spentUsd: number }>();
  let issued = 0;
  return {
    socketPath: '/nonexistent/gateway.sock',
    upstreamLabel: 'http://upstream.test',
    registerSession(sessionId) {
      issued += 1;
      const token = `tok-${issued}`;
      tokens.set(token, sessionId);
      return token;
    },
    revokeSession(sessionId) {
      for (const [token, owner] of tokens) if (owner === sessionId) tokens.delete(token);
    },
    setBudget(sessionId, budget) {
      if (budget === undefined) budgets.delete(sessionId);
      else budgets.set(sessionId, budget);
    },
    budgets,
    usage: (sessionId) => usage.get(sessionId) ?? empty(),
    drainUsage(sessionId) {
      const drained = usage.get(sessionId) ?? empty();
      usage.delete(sessionId);
      return drained;
    },
    forgetSession(sessionId) {
      usage.delete(sessionId);
    },
    meter(token, model, call) {
      const sessionId = tokens.get(token);
      if (sessionId === undefined) throw new Error(`token ${token} is not live`);
      const current = usage.get(sessionId) ?? empty();
      current.total = addUsage(current.total, call);
      current.byModel[model] = addUsage(current.byModel[model] ?? ZERO_USAGE, call);
      current.requests += 1;
      usage.set(sessionId, current);
    },
    get liveTokens() {
      return tokens.size;
    },
  };
}
