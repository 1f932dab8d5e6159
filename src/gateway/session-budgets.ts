// Budgets the gateway enforces before a model call goes upstream: a session (or task) given a
// limit in USD has the cost of every call metered since counted against it, on top of what it had
// spent before (its record). Calls of a budgeted session go upstream one at a time, each checked
// when its turn comes, so at most one response ends past the limit: the one in flight when it was
// crossed. Sessions without a limit are not serialized.
import { addUsage, ZERO_USAGE, type TokenUsage } from '../store/store.js';
import { costOfUsageByModel, type PriceTable } from './pricing.js';

interface Budget {
  limitUsd: number;
  spentUsd: number;
  byModel: Record<string, TokenUsage>;
  /** Settles when the call now going upstream ends. */
  tail: Promise<void>;
}

export type BudgetAdmission = { ok: true; release: () => void } | { ok: false; message: string };

export interface SessionBudgets {
  /** Sets (or replaces) a session's limit and what it had spent before; undefined removes the limit. */
  set(sessionId: string, budget: { limitUsd: number; spentUsd: number } | undefined): void;
  /** Counts a metered call against the session's budget, if it has one. */
  meter(sessionId: string, model: string, usage: TokenUsage): void;
  /** Waits for the session's previous call, then admits this one or refuses it (limit reached). */
  admit(sessionId: string): Promise<BudgetAdmission>;
  forget(sessionId: string): void;
}

export function createSessionBudgets(prices: PriceTable): SessionBudgets {
  const budgets = new Map<string, Budget>();
  const spent = (budget: Budget): number => budget.spentUsd + costOfUsageByModel(prices, budget.byModel);
  return {
    set(sessionId, budget) {
      if (budget === undefined) {
        budgets.delete(sessionId);
        return;
      }
      const existing = budgets.get(sessionId);
      budgets.set(sessionId, { limitUsd: budget.limitUsd, spentUsd: budget.spentUsd, byModel: {}, tail: existing?.tail ?? Promise.resolve() });
    },
    meter(sessionId, model, usage) {
      const budget = budgets.get(sessionId);
      if (budget !== undefined) budget.byModel[model] = addUsage(budget.byModel[model] ?? ZERO_USAGE, usage);
    },
    async admit(sessionId) {
      const budget = budgets.get(sessionId);
      if (budget === undefined) return { ok: true, release: () => undefined };
      let release!: () => void;
      const previous = budget.tail;
      budget.tail = new Promise<void>((resolve) => (release = resolve));
      await previous;
      const used = spent(budget);
      if (used >= budget.limitUsd) {
        release();
        return {
          ok: false,
          message: `Hangar: this session has spent $${used.toFixed(4)} of its $${budget.limitUsd} budget (maxBudgetUsd); no more model calls are made`,
        };
      }
      return { ok: true, release };
    },
    forget(sessionId) {
      budgets.delete(sessionId);
    },
  };
}
