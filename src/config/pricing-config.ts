// The `pricing` section of the configuration: USD per million tokens by model id, which the model
// gateway uses to count what each task and session costs.
import { z } from 'zod';

const modelPriceSchema = z
  .object({
    inputPerMTok: z.number().nonnegative().describe('USD per million uncached input tokens'),
    outputPerMTok: z.number().nonnegative().describe('USD per million output tokens'),
    cacheWritePerMTok: z.number().nonnegative().describe('USD per million tokens written to the prompt cache'),
    cacheReadPerMTok: z.number().nonnegative().describe('USD per million tokens read from the prompt cache'),
  })
  .strict();

export type ModelPrice = z.infer<typeof modelPriceSchema>;

/** The price of a model missing from the table. */
export const DEFAULT_FALLBACK_PRICE: ModelPrice = { inputPerMTok: 3, outputPerMTok: 15, cacheWritePerMTok: 3.75, cacheReadPerMTok: 0.3 };

/** Published list prices (USD per million tokens) for the Claude models in common use. */
export const DEFAULT_PRICES: Record<string, ModelPrice> = {
  'claude-opus-4': { inputPerMTok: 15, outputPerMTok: 75, cacheWritePerMTok: 18.75, cacheReadPerMTok: 1.5 },
  'claude-opus-4-5': { inputPerMTok: 5, outputPerMTok: 25, cacheWritePerMTok: 6.25, cacheReadPerMTok: 0.5 },
  'claude-sonnet-4': { inputPerMTok: 3, outputPerMTok: 15, cacheWritePerMTok: 3.75, cacheReadPerMTok: 0.3 },
  'claude-sonnet-4-5': { inputPerMTok: 3, outputPerMTok: 15, cacheWritePerMTok: 3.75, cacheReadPerMTok: 0.3 },
  'claude-haiku-4-5': { inputPerMTok: 1, outputPerMTok: 5, cacheWritePerMTok: 1.25, cacheReadPerMTok: 0.1 },
  'claude-3-5-haiku': { inputPerMTok: 0.8, outputPerMTok: 4, cacheWritePerMTok: 1, cacheReadPerMTok: 0.08 },
};

export const pricingConfigSchema = z
  .object({
    models: z
      .record(z.string(), modelPriceSchema)
      .default(DEFAULT_PRICES)
      .describe('Prices per model id; a model matches the longest entry that prefixes its id'),
    fallback: modelPriceSchema.default(DEFAULT_FALLBACK_PRICE).describe('Price used for models missing from the table'),
  })
  .strict()
  .default({
    models: DEFAULT_PRICES,
    fallback: DEFAULT_FALLBACK_PRICE,
  });
