// Turns metered token usage into USD with the configured per-model price table.
import type { ModelPrice } from '../config/config.js';
import type { TokenUsage } from '../store/store.js';

export interface PriceTable {
  models: Record<string, ModelPrice>;
  fallback: ModelPrice;
}

/** The price of a model: the table entry with the longest id that prefixes it (dated ids match their family). */
export function priceForModel(table: PriceTable, model: string): ModelPrice {
  let best: { id: string; price: ModelPrice } | undefined;
  for (const [id, price] of Object.entries(table.models)) {
    if (model.startsWith(id) && (best === undefined || id.length > best.id.length)) best = { id, price };
  }
  return best?.price ?? table.fallback;
}

export function costOfUsage(price: ModelPrice, usage: TokenUsage): number {
  return (
    (usage.inputTokens * price.inputPerMTok +
      usage.outputTokens * price.outputPerMTok +
      usage.cacheCreationInputTokens * price.cacheWritePerMTok +
      usage.cacheReadInputTokens * price.cacheReadPerMTok) /
    1_000_000
  );
}

/** USD of usage split by model, rounded to a millionth of a dollar. */
export function costOfUsageByModel(table: PriceTable, usageByModel: Record<string, TokenUsage>): number {
  let total = 0;
  for (const [model, usage] of Object.entries(usageByModel)) total += costOfUsage(priceForModel(table, model), usage);
  return Math.round(total * 1_000_000) / 1_000_000;
}
