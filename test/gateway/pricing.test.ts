import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { costOfUsageByModel, priceForModel } from '../../src/gateway/pricing.js';

describe('pricing', () => {
  const table = parseConfig({}).pricing;

  it('matches dated model ids to the longest prefix in the table', () => {
    expect(priceForModel(table, 'claude-sonnet-4-5-20250929').outputPerMTok).toBe(15);
    expect(priceForModel(table, 'claude-opus-4-5-20251101').inputPerMTok).toBe(5);
    expect(priceForModel(table, 'claude-opus-4-1-20250805').inputPerMTok).toBe(15);
    expect(priceForModel(table, 'some-other-model')).toEqual(table.fallback);
  });

  it('adds every token kind at its own price, across models', () => {
    const cost = costOfUsageByModel(table, {
      'claude-sonnet-4-5': { inputTokens: 1_000_000, outputTokens: 100_000, cacheCreationInputTokens: 0, cacheReadInputTokens: 1_000_000 },
      'claude-haiku-4-5': { inputTokens: 0, outputTokens: 0, cacheCreationInputTokens: 1_000_000, cacheReadInputTokens: 0 },
    });
    // sonnet: 3 + 1.5 + 0.3; haiku cache write: 1.25
    expect(cost).toBeCloseTo(6.05, 6);
  });

  it('uses a custom table from the configuration', () => {
    const custom = parseConfig({
      pricing: { models: { 'my-model': { inputPerMTok: 1, outputPerMTok: 2, cacheWritePerMTok: 0, cacheReadPerMTok: 0 } } },
    }).pricing;
    expect(
      costOfUsageByModel(custom, { 'my-model': { inputTokens: 500_000, outputTokens: 500_000, cacheCreationInputTokens: 0, cacheReadInputTokens: 0 } }),
    ).toBe(1.5);
  });
});
